// The ssh-agent client against OpenSSH's real ssh-agent (keys loaded with the
// real ssh-add), and loadSigningKey's choice between a private key file and
// a public key file with the key in the agent.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ed25519Verify, generateSeed, keyHash, signerFromSeed } from '../../src/crypto/index.js';
import { writeKeyPair } from '../../src/crypto/keyfile.js';
import { loadSigningKey } from '../../src/crypto/signing-key.js';
import { SshAgentClient, SshAgentError } from '../../src/crypto/ssh-agent.js';
import { ed25519PublicKeyBlob } from '../../src/crypto/ssh-wire.js';
import { ConfigError } from '../../src/errors.js';
import { toHex } from '../../src/hex.js';
import type { Signer } from '../../src/types.js';
import { startLyingAgent, startTestAgent } from '../helpers/ssh-agent.js';

const utf8 = new TextEncoder();

function tempDir(t: TestContext): string {
  // Short: a unix socket path must fit in 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function newKey(dir: string, name: string): { file: string; signer: Signer } {
  const file = join(dir, name);
  const seed = generateSeed();
  writeKeyPair(file, seed);
  return { file, signer: signerFromSeed(seed) };
}

test('ssh-agent client: lists identities, signs, refuses an absent key, and reports a dead socket', async (t) => {
  const dir = tempDir(t);
  const agent = await startTestAgent(t, join(dir, 'agent.sock'));
  if (agent === undefined) return;
  const client = new SshAgentClient(agent.socket);
  assert.deepEqual(await client.identities(), [], 'a fresh agent holds nothing');

  const key = newKey(dir, 'log.key');
  const other = newKey(dir, 'other.key');
  await agent.add(key.file);
  const ids = await client.identities();
  assert.equal(ids.length, 1);
  assert.equal(toHex(ids[0]!.ed25519!), toHex(key.signer.publicKey));
  assert.deepEqual(ids[0]!.blob, ed25519PublicKeyBlob(key.signer.publicKey));
  assert.equal(ids[0]!.comment, 'sigsum key', 'the comment keygen writes');

  const message = utf8.encode('sigsum.org/v1/tree/00\n5\nAAAA\n');
  const signature = await client.signEd25519(key.signer.publicKey, message);
  assert.ok(ed25519Verify(key.signer.publicKey, message, signature));
  assert.equal(toHex(signature), toHex(key.signer.sign(message)), 'Ed25519 is deterministic: the same bytes as in process');

  await assert.rejects(client.signEd25519(other.signer.publicKey, message), (err: Error) => err instanceof SshAgentError && /refused to sign/.test(err.message));

  await agent.kill();
  await assert.rejects(client.identities(), (err: Error) => err instanceof SshAgentError && /cannot reach the agent at .*agent\.sock/.test(err.message));
  await assert.rejects(client.signEd25519(key.signer.publicKey, message), SshAgentError);
  const never = new SshAgentClient(join(dir, 'no-such.sock'));
  await assert.rejects(never.identities(), /no agent is listening there/);
});

test('loadSigningKey: a private key file signs in process; a public key file signs through the agent, reconnecting after a restart', async (t) => {
  const dir = tempDir(t);
  const agent = await startTestAgent(t, join(dir, 'agent.sock'));
  if (agent === undefined) return;
  const key = newKey(dir, 'log.key');
  const hash = toHex(keyHash(key.signer.publicKey));
  const env = { SSH_AUTH_SOCK: agent.socket };
  const message = utf8.encode('a checkpoint body\n');

  const inProcess = await loadSigningKey(key.file, 'key-file', {});
  assert.equal(inProcess.where, `key file ${key.file}`);
  assert.equal(toHex(await inProcess.sign(message)), toHex(key.signer.sign(message)));

  const refusal = (pattern: RegExp) => (err: Error) => err instanceof ConfigError && pattern.test(err.message) && err.message.includes(hash) && err.message.includes('SSH_AUTH_SOCK');
  await assert.rejects(loadSigningKey(`${key.file}.pub`, 'key-file', {}), refusal(/SSH_AUTH_SOCK is not set/));
  await assert.rejects(loadSigningKey(`${key.file}.pub`, 'key-file', env), refusal(/does not hold this key \(it offers 0 other keys\)/));
  await assert.rejects(loadSigningKey(`${key.file}.pub`, 'key-file', { SSH_AUTH_SOCK: join(dir, 'none.sock') }), refusal(/no agent is listening/));

  await agent.add(key.file);
  const viaAgent = await loadSigningKey(`${key.file}.pub`, 'key-file', env);
  assert.equal(viaAgent.where, `ssh-agent at ${agent.socket}`);
  assert.equal(toHex(await viaAgent.sign(message)), toHex(key.signer.sign(message)));

  await agent.kill();
  await assert.rejects(viaAgent.sign(message), SshAgentError);
  await agent.restart();
  await assert.rejects(viaAgent.sign(message), /refused to sign/, 'a restarted agent without the key refuses');
  await agent.add(key.file);
  assert.equal(toHex(await viaAgent.sign(message)), toHex(key.signer.sign(message)), 'the same signer works again: a new connection per signature');
});

test('agent signer: a returned signature that does not verify with the public key is never used', async (t) => {
  const dir = tempDir(t);
  const key = newKey(dir, 'log.key');
  const wrong = newKey(dir, 'wrong.key');
  const server = await startLyingAgent(join(dir, 'liar.sock'), key.signer, wrong.signer);
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const signer = await loadSigningKey(`${key.file}.pub`, 'key-file', { SSH_AUTH_SOCK: join(dir, 'liar.sock') });
  await assert.rejects(signer.sign(utf8.encode('x')), (err: Error) => err instanceof SshAgentError && /does not verify with key hash/.test(err.message));
});

test('loadSigningKey: a key file that is neither a private nor a public key names both possibilities; an open private key is refused', async (t) => {
  const dir = tempDir(t);
  const junk = join(dir, 'junk');
  writeFileSync(junk, 'hello\n');
  await assert.rejects(loadSigningKey(junk, 'key-file', {}), (err: Error) => err instanceof ConfigError && /^key-file .*junk holds neither an OpenSSH private key nor a public key/.test(err.message));
  const key = newKey(dir, 'open.key');
  chmodSync(key.file, 0o644);
  await assert.rejects(loadSigningKey(key.file, 'key-file', {}), (err: Error) => err instanceof ConfigError && /permissions 0644 are too open.*chmod 600/.test(err.message));
});
