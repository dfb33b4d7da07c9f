// The witness against C2SP tlog-witness add-checkpoint, over real HTTP with a
// real state file: one table row per status the spec defines, then the
// properties around them (monitor endpoint, atomic update, persistence, the
// CLI process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyHash, sha256 } from '../../src/crypto/index.js';
import { checkpointBody, logOrigin, verifyCosignature } from '../../src/formats/checkpoint.js';
import { parseSignedNote, parseWitnessCosignatures, witnessKeyName } from '../../src/formats/signed-note.js';
import { toHex } from '../../src/hex.js';
import { emptyRoot } from '../../src/tree/hash.js';
import { TLOG_SIZE_CONTENT_TYPE } from '../../src/witness/protocol.js';
import { startWitness, type RunningWitness } from '../../src/witness/run.js';
import { http, runCli, spawnCli } from '../helpers/node-process.js';
import { startTestAgent } from '../helpers/ssh-agent.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { cases, world, type World } from './cases.js';
import { addCheckpointBody, capturingLogger } from './fixtures.js';

const utf8 = new TextEncoder();

async function startIn(w: World, stateFile: string): Promise<RunningWitness> {
  return startWitness(
    { keyFile: w.witnessKeyFile, logPubkeyFiles: [w.logPub], stateFile, listen: '127.0.0.1:0' },
    capturingLogger(),
  );
}

async function post(url: string, body: string | Uint8Array): Promise<{ status: number; body: string; type: string | null }> {
  const res = await http(`${url}/add-checkpoint`, { method: 'POST', body });
  return { status: res.status, body: res.body, type: res.headers.get('content-type') };
}

/** The size in the witness's monitor checkpoint, or undefined if it has none. */
async function storedSize(w: World, url: string): Promise<number | undefined> {
  const originHash = toHex(sha256(utf8.encode(logOrigin(keyHash(w.log.publicKey)))));
  const res = await http(`${url}/${originHash}/checkpoint`);
  if (res.status === 404) return undefined;
  assert.equal(res.status, 200, res.body);
  return Number(res.body.split('\n')[1]);
}

test('witness add-checkpoint: every status of tlog-witness', async (t) => {
  const dir = tempDir('sigsum-witness-');
  t.after(() => dir.remove());
  const w = await world(dir.path);
  for (const [i, c] of cases.entries()) {
    await t.test(c.name, async () => {
      const running = await startIn(w, join(dir.path, `state-${i}.json`));
      try {
        let old = 0;
        for (const size of c.prior) {
          const r = await post(running.url, addCheckpointBody(w.log, w.tree, old, size));
          assert.equal(r.status, 200, `prior cosigning of ${size}: ${r.body}`);
          old = size;
        }
        const before = Math.floor(Date.now() / 1000);
        const res = await post(running.url, c.body(w));
        assert.equal(res.status, c.status, res.body);
        if (c.status === 200) {
          assert.equal(res.type, 'text/plain; charset=utf-8');
          // Exactly one line, under the sigsum-witness key name, that verifies.
          assert.match(res.body, /^\u2014 sigsum\.org\/v1\/witness\/[0-9a-f]{64} \S+\n$/);
          const cosigs = parseWitnessCosignatures(res.body, w.witnessKey.publicKey, witnessKeyName(w.witnessKey.publicKey));
          assert.equal(cosigs.length, 1);
          const size = c.after!;
          const root = size === 0 ? emptyRoot() : w.tree.root(size);
          assert.ok(verifyCosignature(w.witnessKey.publicKey, keyHash(w.log.publicKey), { size, rootHash: root }, cosigs[0]!));
          assert.ok(cosigs[0]!.timestamp >= before && cosigs[0]!.timestamp <= Math.floor(Date.now() / 1000) + 1);
        } else if (c.status === 409) {
          assert.equal(res.type, TLOG_SIZE_CONTENT_TYPE);
        } else {
          assert.match(res.body, /^[^\n]+\n$/, 'errors are one line');
        }
        if (c.exactBody !== undefined) assert.equal(res.body, c.exactBody);
        assert.equal(await storedSize(w, running.url), c.after, 'stored size afterwards');
      } finally {
        await running.stop();
      }
    });
  }
});

test('witness HTTP: wrong method, unknown paths, oversized body', async (t) => {
  const dir = tempDir('sigsum-witness-');
  t.after(() => dir.remove());
  const w = await world(dir.path);
  const running = await startIn(w, join(dir.path, 'state.json'));
  t.after(() => running.stop());
  assert.equal((await http(`${running.url}/add-checkpoint`)).status, 405);
  assert.equal((await http(`${running.url}/add-leaf`, { method: 'POST', body: 'x' })).status, 404);
  assert.equal((await http(`${running.url}/${'ab'.repeat(32)}/checkpoint`)).status, 404, 'unknown origin hash');
  assert.equal((await post(running.url, 'old 0\n' + 'A'.repeat(70_000))).status, 413);
});

test('witness monitor endpoint: the log signature and the cosignature', async (t) => {
  const dir = tempDir('sigsum-witness-');
  t.after(() => dir.remove());
  const w = await world(dir.path);
  const running = await startIn(w, join(dir.path, 'state.json'));
  t.after(() => running.stop());
  assert.equal(await storedSize(w, running.url), undefined);
  const res = await post(running.url, addCheckpointBody(w.log, w.tree, 0, 21));
  assert.equal(res.status, 200);
  const originHash = toHex(sha256(utf8.encode(logOrigin(keyHash(w.log.publicKey)))));
  const served = await http(`${running.url}/${originHash.toUpperCase()}/checkpoint`);
  assert.equal(served.status, 404, 'origin hash is lowercase hex');
  const note = (await http(`${running.url}/${originHash}/checkpoint`)).body;
  const parsed = parseSignedNote(note);
  assert.equal(parsed.text, checkpointBody(keyHash(w.log.publicKey), { size: 21, rootHash: w.tree.root(21) }));
  assert.equal(parsed.signatures.length, 2, 'log signature and cosignature');
  assert.ok(note.endsWith(res.body), 'the cosignature line returned is the one served');
});

test('witness: concurrent requests from the same old size; exactly one wins (atomic check-and-update)', async (t) => {
  const dir = tempDir('sigsum-witness-');
  t.after(() => dir.remove());
  const w = await world(dir.path);
  const running = await startIn(w, join(dir.path, 'state.json'));
  t.after(() => running.stop());
  assert.equal((await post(running.url, addCheckpointBody(w.log, w.tree, 0, 10))).status, 200);
  const sizes = Array.from({ length: 20 }, (_, i) => 11 + i * 2);
  const results = await Promise.all(sizes.map((s) => post(running.url, addCheckpointBody(w.log, w.tree, 10, s))));
  const winners = sizes.filter((_s, i) => results[i]!.status === 200);
  assert.equal(winners.length, 1, `statuses ${results.map((r) => r.status)}`);
  for (const r of results) if (r.status !== 200) assert.deepEqual([r.status, r.body], [409, `${winners[0]}\n`]);
  assert.equal(await storedSize(w, running.url), winners[0]);
});

test('witness state: survives a restart; an edited state file is refused', async (t) => {
  const dir = tempDir('sigsum-witness-');
  t.after(() => dir.remove());
  const w = await world(dir.path);
  const stateFile = join(dir.path, 'state.json');
  let running = await startIn(w, stateFile);
  assert.equal((await post(running.url, addCheckpointBody(w.log, w.tree, 0, 12))).status, 200);
  await running.stop();

  running = await startIn(w, stateFile);
  t.after(() => running.stop());
  const conflict = await post(running.url, addCheckpointBody(w.log, w.tree, 0, 20));
  assert.deepEqual([conflict.status, conflict.body], [409, '12\n']);
  assert.equal((await post(running.url, addCheckpointBody(w.log, w.tree, 12, 20))).status, 200);
  await running.stop();

  // Claiming a larger size than was cosigned breaks the stored signatures.
  const edited = join(dir.path, 'edited.json');
  copyFileSync(stateFile, edited);
  writeFileSync(edited, readFileSync(edited, 'utf8').replace('\\n20\\n', '\\n25\\n'));
  await assert.rejects(startIn(w, edited), /witness state/);
  // A state file cosigned by another witness key is refused too.
  makeKey(join(dir.path, 'other-witness.key'));
  await assert.rejects(
    startWitness({ keyFile: join(dir.path, 'other-witness.key'), logPubkeyFiles: [w.logPub], stateFile, listen: '127.0.0.1:0' }, capturingLogger()),
    /no valid cosignature by this witness key/,
  );
});

test('witness: several logs keep separate state', async (t) => {
  const dir = tempDir('sigsum-witness-');
  t.after(() => dir.remove());
  const w = await world(dir.path);
  const running = await startWitness(
    { keyFile: w.witnessKeyFile, logPubkeyFiles: [w.logPub, join(dir.path, 'other-log.key.pub')], stateFile: join(dir.path, 's.json'), listen: '127.0.0.1:0' },
    capturingLogger(),
  );
  t.after(() => running.stop());
  assert.equal((await post(running.url, addCheckpointBody(w.log, w.tree, 0, 9))).status, 200);
  assert.equal((await post(running.url, addCheckpointBody(w.otherLog, w.fork, 0, 4))).status, 200);
  assert.equal((await post(running.url, addCheckpointBody(w.otherLog, w.fork, 4, 30))).status, 200);
  assert.deepEqual((await post(running.url, addCheckpointBody(w.log, w.tree, 0, 10))).body, '9\n');
});

test('sigsum-log witness (process): ready line, cosigns, state survives kill -9', async (t) => {
  const dir = tempDir('sigsum-witness-');
  t.after(() => dir.remove());
  const w = await world(dir.path);
  const args = ['witness', '--key-file', w.witnessKeyFile, '--log-pubkey-file', w.logPub, '--state', join(dir.path, 'state.json'), '--listen', '127.0.0.1:0'];
  const start = async (): Promise<{ url: string; kill9(): Promise<void> }> => {
    const p = spawnCli(args, { name: 'witness' });
    t.after(() => p.kill9());
    const m = await p.waitForOutput(/witness listening on (http:\/\/\S+)/);
    return { url: m[1]!, kill9: () => p.kill9() };
  };
  let p = await start();
  const res = await post(p.url, addCheckpointBody(w.log, w.tree, 0, 33));
  assert.equal(res.status, 200, res.body);
  await p.kill9();
  p = await start();
  const again = await post(p.url, addCheckpointBody(w.log, w.tree, 0, 40));
  assert.deepEqual([again.status, again.body], [409, '33\n']);
  assert.equal((await post(p.url, addCheckpointBody(w.log, w.tree, 33, 40))).status, 200);
});

test('sigsum-log witness --key-file KEY.pub: cosigns through a real ssh-agent; 503 while the agent is gone; refuses to start without it', async (t) => {
  const dir = tempDir('sigsum-witness-');
  t.after(() => dir.remove());
  const agent = await startTestAgent(t, join(dir.path, 'agent.sock'));
  if (agent === undefined) return;
  const w = await world(dir.path);
  const hash = toHex(keyHash(w.witnessKey.publicKey));
  const args = ['witness', '--key-file', `${w.witnessKeyFile}.pub`, '--log-pubkey-file', w.logPub, '--state', join(dir.path, 'state.json'), '--listen', '127.0.0.1:0'];

  const noAgent = await runCli(args, 20_000, { SSH_AUTH_SOCK: '' });
  assert.equal(noAgent.code, 2, noAgent.output);
  assert.match(noAgent.output, new RegExp(`witness --key-file .*witness\\.key\\.pub is a public key \\(key hash ${hash}\\).*SSH_AUTH_SOCK is not set`));
  const keyless = await runCli(args, 20_000, { SSH_AUTH_SOCK: agent.socket });
  assert.equal(keyless.code, 2, keyless.output);
  assert.match(keyless.output, new RegExp(`key hash ${hash}.*SSH_AUTH_SOCK=.*agent\\.sock, but that agent does not hold this key`));

  await agent.add(w.witnessKeyFile);
  const p = spawnCli(args, { name: 'witness', env: { SSH_AUTH_SOCK: agent.socket } });
  t.after(() => p.kill9());
  const url = (await p.waitForOutput(/witness listening on (http:\/\/\S+)/))[1]!;
  assert.match(p.output, /witness; key hash [0-9a-f]{64} \(ssh-agent at /);
  const cosigned = async (oldSize: number, size: number): Promise<void> => {
    const res = await post(url, addCheckpointBody(w.log, w.tree, oldSize, size));
    assert.equal(res.status, 200, res.body);
    const cosigs = parseWitnessCosignatures(res.body, w.witnessKey.publicKey, witnessKeyName(w.witnessKey.publicKey));
    assert.ok(verifyCosignature(w.witnessKey.publicKey, keyHash(w.log.publicKey), { size, rootHash: w.tree.root(size) }, cosigs[0]!));
  };
  await cosigned(0, 10);

  await agent.kill();
  const refused = await post(url, addCheckpointBody(w.log, w.tree, 10, 20));
  assert.equal(refused.status, 503, refused.body);
  assert.match(refused.body, /cannot sign now: .*agent/);
  assert.equal(await storedSize(w, url), 10, 'nothing stored without a signature');
  assert.equal((await post(url, addCheckpointBody(w.log, w.tree, 10, 20))).status, 503);
  assert.equal(p.output.match(/ERROR .*the witness cannot sign: /g)?.length, 1, `logged once, not per request:\n${p.output}`);

  await agent.restart();
  await agent.add(w.witnessKeyFile);
  await cosigned(10, 20); // the same process, a new agent connection
  await p.waitForOutput(/the witness signs again/);
});
