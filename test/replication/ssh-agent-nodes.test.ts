// Primary and secondary with key-file pointing at a .pub file: every tree head
// is signed by OpenSSH's real ssh-agent (keys loaded with the real ssh-add),
// as a log key kept in a YubiHSM behind sigsum-agent would be. The agent is
// killed mid-run: nothing is published, the failure is logged once, and
// once the agent is back the heads resume without a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyHash } from '../../src/crypto/index.js';
import { verifyTreeHeadSignature } from '../../src/formats/checkpoint.js';
import { parseSignedTreeHead } from '../../src/formats/messages.js';
import { toHex } from '../../src/hex.js';
import { makeKey, tempDir, type NodeSetup } from '../helpers/log-fixture.js';
import { http, runCli, spawnCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { startLyingAgent, startTestAgent } from '../helpers/ssh-agent.js';
import { addLeaf, inParallel, makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { prepareCluster, publishedHead, waitForSize } from './fixture.js';

const INTERVAL_MS = 400;

/** Points the node's key-file at its public key: from now on it signs through the agent. */
function useAgentKey(setup: NodeSetup): void {
  const text = readFileSync(setup.config, 'utf8');
  const line = `key-file = ${JSON.stringify(setup.keyFile)}`;
  assert.ok(text.includes(line));
  writeFileSync(setup.config, text.replace(line, `key-file = ${JSON.stringify(`${setup.keyFile}.pub`)}`));
}

async function startWithAgent(role: 'primary' | 'secondary', setup: NodeSetup, socket: string): Promise<NodeProcess> {
  const p = spawnCli(['--role', role, '--config', setup.config], { name: role, env: { SSH_AUTH_SOCK: socket } });
  try {
    await p.waitForOutput(/public API on http:\/\/\S+/, 20_000);
  } catch (err) {
    await p.kill9();
    throw err;
  }
  return p;
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}

test('ssh-agent: primary and secondary sign through the agent; a killed agent stops publication, logged once; heads resume when it is back', async (t) => {
  const dir = tempDir('sigsum-agent-');
  t.after(() => dir.remove());
  const agent = await startTestAgent(t, join(dir.path, 'agent.sock'));
  if (agent === undefined) return;
  const { primary, secondaries } = await prepareCluster(dir.path, { secondaries: 1, primaryInterval: `${INTERVAL_MS}ms`, secondaryInterval: '100ms' });
  const secondary = secondaries[0]!;
  useAgentKey(primary);
  useAgentKey(secondary);
  await agent.add(primary.keyFile);
  await agent.add(secondary.keyFile);

  const sp = await startWithAgent('secondary', secondary, agent.socket);
  t.after(() => sp.kill9());
  const pp = await startWithAgent('primary', primary, agent.socket);
  t.after(() => pp.kill9());
  assert.match(pp.output, new RegExp(`log key hash ${toHex(keyHash(primary.signer.publicKey))} \\(ssh-agent at `));
  assert.match(sp.output, /secondary key hash [0-9a-f]{64} \(ssh-agent at /);

  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const first = Array.from({ length: 20 }, () => makeLeaf(submitter));
  await submitUntilPublished(primary.publicUrl, first, 30_000);
  const head = await publishedHead(primary.publicUrl);
  assert.equal(head.size, 20);
  assert.ok(verifyTreeHeadSignature(primary.signer.publicKey, head), 'the published head verifies with the log key');
  const own = parseSignedTreeHead((await http(`${secondary.internalUrl}/get-tree-head-to-cosign`)).body);
  assert.ok(verifyTreeHeadSignature(secondary.signer.publicKey, own), "the secondary's head verifies with its key");

  // The agent dies: new leaves are accepted and replicated, never published.
  await agent.kill();
  const more = Array.from({ length: 10 }, () => makeLeaf(submitter));
  const statuses = await inParallel(more, 8, (l) => addLeaf(primary.publicUrl, l));
  assert.deepEqual(new Set(statuses), new Set([202]));
  await waitForSize(secondary.internalUrl, 30);
  await pp.waitForOutput(/tree head rotation failed: .*agent/, 20_000);
  const cosignAnswer = await waitUntil('the secondary answering 503', async () => {
    const r = await http(`${secondary.internalUrl}/get-tree-head-to-cosign`);
    return r.status === 503 ? r : undefined;
  });
  assert.match(cosignAnswer.body, /cannot sign its tree head now/);
  // Several intervals pass: the old head is served, and the failure was logged once.
  const until = Date.now() + 6 * INTERVAL_MS;
  while (Date.now() < until) {
    const served = await publishedHead(primary.publicUrl);
    assert.equal(served.size, 20, 'the last head is served, nothing newer');
    assert.ok(verifyTreeHeadSignature(primary.signer.publicKey, served));
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(count(pp.output, /ERROR .*tree head rotation failed/), 1, pp.output);
  assert.equal(count(sp.output, /ERROR .*cannot sign this node's tree head/), 1, sp.output);

  // The agent is back, with the keys: the same processes publish again.
  await agent.restart();
  await agent.add(primary.keyFile);
  await agent.add(secondary.keyFile);
  await submitUntilPublished(primary.publicUrl, more, 30_000);
  const resumed = await publishedHead(primary.publicUrl);
  assert.equal(resumed.size, 30);
  assert.ok(verifyTreeHeadSignature(primary.signer.publicKey, resumed));
  await pp.waitForOutput(/tree head rotation succeeds again/);
  await sp.waitForOutput(/signing this node's tree head succeeds again/);
});

test('ssh-agent: a primary with a public key-file refuses to start without the agent or without the key, naming SSH_AUTH_SOCK and the key hash', async (t) => {
  const dir = tempDir('sigsum-agent-');
  t.after(() => dir.remove());
  const agent = await startTestAgent(t, join(dir.path, 'agent.sock'));
  if (agent === undefined) return;
  const { primary } = await prepareCluster(dir.path, { secondaries: 0, primaryInterval: `${INTERVAL_MS}ms` });
  useAgentKey(primary);
  const hash = toHex(keyHash(primary.signer.publicKey));
  const start = (env: Record<string, string>): Promise<{ code: number | null; output: string }> => runCli(['--role', 'primary', '--config', primary.config], 20_000, env);

  const unset = await start({ SSH_AUTH_SOCK: '' });
  assert.equal(unset.code, 2, unset.output);
  assert.match(unset.output, new RegExp(`key-file .*primary\\.key\\.pub is a public key \\(key hash ${hash}\\).*SSH_AUTH_SOCK is not set`));
  const gone = await start({ SSH_AUTH_SOCK: join(dir.path, 'gone.sock') });
  assert.equal(gone.code, 2, gone.output);
  assert.match(gone.output, new RegExp(`key hash ${hash}.*SSH_AUTH_SOCK=.*gone\\.sock: cannot reach the agent`));
  makeKey(join(dir.path, 'other.key'));
  await agent.add(join(dir.path, 'other.key'));
  const keyless = await start({ SSH_AUTH_SOCK: agent.socket });
  assert.equal(keyless.code, 2, keyless.output);
  assert.match(keyless.output, new RegExp(`key hash ${hash}.*does not hold this key \\(it offers 1 other key\\)`));
  assert.doesNotMatch(keyless.output, /RangeError|    at /, 'a message, not a stack');
  // An agent that offers the key but answers with a signature that does not
  // verify (a broken token): the first head is not signed, the files stay.
  const liar = await startLyingAgent(join(dir.path, 'liar.sock'), primary.signer, makeKey(join(dir.path, 'liar.key')));
  t.after(() => new Promise((resolve) => liar.close(resolve)));
  const lied = await start({ SSH_AUTH_SOCK: join(dir.path, 'liar.sock') });
  assert.equal(lied.code, 2, lied.output);
  assert.match(lied.output, /cannot sign the first tree head \(startup=empty\); .*\.startup is kept: .*returned a signature that does not verify with key hash/);
  // Nothing was signed or written: the startup file is still there.
  assert.ok(readFileSync(`${primary.sthFile}.startup`, 'utf8').startsWith('startup=empty'));
  assert.equal(existsSync(primary.sthFile), false);
});
