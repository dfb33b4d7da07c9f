// Key files against the real tools: sigsum-key (sigsum-go) and, when present, ssh-keygen.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ed25519Sign, ed25519Verify, generateSeed, publicKeyFromSeed } from '../../src/crypto/index.js';
import { readPrivateKeyFile, readPublicKeyFile, writeKeyPair } from '../../src/crypto/keyfile.js';
import { ConfigError } from '../../src/errors.js';
import { toHex } from '../../src/hex.js';
import { asSignature } from '../../src/types.js';
import { findOnPath, runTool, sigsumTools, type ToolResult } from '../helpers/sigsum-tools.js';

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyfile-interop-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function ok(r: ToolResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function sshKeygen(t: TestContext): string | undefined {
  const found = findOnPath('ssh-keygen');
  if (found === undefined) t.skip('ssh-keygen not installed');
  return found;
}

const MESSAGE = 'interop message\n';

test('keys from sigsum-key generate are read correctly', async (t) => {
  const bin = sigsumTools(t);
  if (!bin) return;
  const file = path.join(tempDir(t), 'key');
  ok(await runTool(bin, 'sigsum-key', ['generate', '-o', file]), 'sigsum-key generate');

  const seed = readPrivateKeyFile(file);
  const pub = readPublicKeyFile(`${file}.pub`);
  const hex = ok(await runTool(bin, 'sigsum-key', ['to-hex', '-k', `${file}.pub`]), 'sigsum-key to-hex');
  assert.equal(toHex(pub), hex.trim());
  assert.deepEqual(publicKeyFromSeed(seed), pub);

  // Ed25519 is deterministic: the same seed must give the very same signature.
  const sig = ok(await runTool(bin, 'sigsum-key', ['sign', '-k', file], { input: MESSAGE }), 'sigsum-key sign');
  assert.equal(toHex(ed25519Sign(seed, Buffer.from(MESSAGE))), sig.trim());
});

test('keys written by writeKeyPair are accepted by sigsum-key', async (t) => {
  const bin = sigsumTools(t);
  if (!bin) return;
  const file = path.join(tempDir(t), 'ours');
  const seed = generateSeed();
  writeKeyPair(file, seed);
  const pub = publicKeyFromSeed(seed);

  const hex = ok(await runTool(bin, 'sigsum-key', ['to-hex', '-k', `${file}.pub`]), 'sigsum-key to-hex');
  assert.equal(hex.trim(), toHex(pub));
  const sig = ok(await runTool(bin, 'sigsum-key', ['sign', '-k', file], { input: MESSAGE }), 'sigsum-key sign');
  assert.ok(ed25519Verify(pub, Buffer.from(MESSAGE), asSignature(new Uint8Array(Buffer.from(sig.trim(), 'hex')))));
});

test('a raw hex public key from sigsum-key to-hex is read back', async (t) => {
  const bin = sigsumTools(t);
  if (!bin) return;
  const dir = tempDir(t);
  const file = path.join(dir, 'ours');
  writeKeyPair(file, generateSeed());
  const hexFile = path.join(dir, 'pub.hex');
  ok(await runTool(bin, 'sigsum-key', ['to-hex', '-k', `${file}.pub`, '-o', hexFile]), 'sigsum-key to-hex -o');
  assert.deepEqual(readPublicKeyFile(hexFile), readPublicKeyFile(`${file}.pub`));
});

test('keys from ssh-keygen are read correctly', async (t) => {
  const keygen = sshKeygen(t);
  if (!keygen) return;
  const file = path.join(tempDir(t), 'id_ed25519');
  ok(await runTool('', keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'test@example', '-f', file]), 'ssh-keygen');
  const seed = readPrivateKeyFile(file);
  assert.deepEqual(readPublicKeyFile(`${file}.pub`), publicKeyFromSeed(seed));
});

test('ssh-keygen accepts the keys we write', async (t) => {
  const keygen = sshKeygen(t);
  if (!keygen) return;
  const file = path.join(tempDir(t), 'ours');
  writeKeyPair(file, generateSeed());
  // -y re-derives the public key from our private key file.
  const derived = ok(await runTool('', keygen, ['-y', '-f', file]), 'ssh-keygen -y');
  const [type, b64] = fs.readFileSync(`${file}.pub`, 'utf8').split(' ');
  assert.equal(derived.trim().split(' ').slice(0, 2).join(' '), `${type} ${b64}`);
});

test('a passphrase-protected key from ssh-keygen gives the "encrypted" error', async (t) => {
  const keygen = sshKeygen(t);
  if (!keygen) return;
  const file = path.join(tempDir(t), 'locked');
  ok(await runTool('', keygen, ['-q', '-t', 'ed25519', '-N', 'secret pass', '-f', file]), 'ssh-keygen -N');
  assert.throws(
    () => readPrivateKeyFile(file),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.startsWith(`private key file ${file}: encrypted private keys are not supported; `),
  );
});
