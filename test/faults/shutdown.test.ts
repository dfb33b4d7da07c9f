// SIGTERM on real node processes: stop accepting, sequence what is pending,
// finish or abandon the rotation, close the database, log it, exit 0 within
// a bounded time; a second SIGTERM exits at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { TreeStore } from '../../src/tree/store.js';
import { makeKey, preparePrimary, prepareSecondary, startNodeProcess, tempDir, writePrimaryConfig } from '../helpers/log-fixture.js';
import { waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { addLeaf, makeLeaf, submitUntilPublished, type TestLeaf } from '../helpers/submitter.js';
import { startBadWitness } from '../witness/bad-witnesses.js';
import { policyText, startPrimaryWithPolicy } from '../witness/cluster.js';
import { randomLeaves, treeWith, waitForSize } from '../replication/fixture.js';

/** Sends SIGTERM and waits for the exit (SIGKILL after `limitMs`); returns the code and how long it took. */
async function sigterm(p: NodeProcess, limitMs = 30_000): Promise<{ code: number | null; ms: number }> {
  const began = Date.now();
  const code = await p.stop(limitMs);
  return { code, ms: Date.now() - began };
}

/** Submits each leaf once; every one must be answered 202 (accepted, pending). */
async function submitPending(url: string, leaves: readonly TestLeaf[]): Promise<void> {
  for (const leaf of leaves) assert.equal(await addLeaf(url, leaf), 202);
}

function assertAllStored(dbFile: string, leaves: readonly TestLeaf[]): void {
  const db = TreeStore.open(dbFile);
  try {
    for (const l of leaves) assert.notEqual(db.indexOfLeafHash(l.leafHash), undefined, 'a leaf answered 202 before SIGTERM is in the tree');
  } finally {
    db.close();
  }
}

test('SIGTERM: pending leaves are sequenced, the database closed, one line logged, exit 0; they are published after restart', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  // No batch flush and no rotation before the SIGTERM: the leaves stay pending.
  const slow = { interval: '1h', primary: { 'batch-interval': '1m', 'batch-size': 10_000 } };
  const setup = await preparePrimary(dir.path, slow);
  let primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 50 }, () => makeLeaf(submitter));
  await submitPending(setup.publicUrl, leaves);

  const { code, ms } = await sigterm(primary);
  assert.equal(code, 0, primary.output);
  assert.ok(ms < 20_000, `exited in ${ms} ms`);
  assert.match(primary.output, /shut down in \d+ ms: stopped accepting, sequenced 50 pending leaves, no rotation in progress, database closed/);
  assertAllStored(setup.dbFile, leaves);

  writePrimaryConfig(setup, { interval: '200ms' });
  primary = await startNodeProcess('primary', setup);
  await submitUntilPublished(setup.publicUrl, leaves, 20_000);
  assert.equal(await primary.stop(), 0);
});

/** A primary whose only (quorum) witness accepts requests and never answers, with a rotation stuck on it. */
async function primaryWithBlackHoledWitness(t: { after(fn: () => unknown): void }, dir: string) {
  const witness = await startBadWitness({ kind: 'hang' });
  t.after(() => witness.close());
  const c = await startPrimaryWithPolicy(t as never, dir, { interval: '300ms', timeout: '60s' }, async (setup) =>
    policyText(setup.signer, setup.publicUrl, [{ name: 'blackhole', key: signerFromSeed(generateSeed()), url: witness.url }], 'quorum blackhole'),
  );
  await waitUntil('a rotation waiting on the witness', () => (witness.requests > 0 ? true : undefined));
  return c;
}

test('SIGTERM with a black-holed witness: the rotation is abandoned, nothing is lost, exit 0 in bounded time', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const c = await primaryWithBlackHoledWitness(t, dir.path);
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 20 }, () => makeLeaf(submitter));
  await submitPending(c.setup.publicUrl, leaves);

  // The witness timeout is 60 s; the shutdown must not wait for it.
  const { code, ms } = await sigterm(c.primary, 40_000);
  assert.equal(code, 0, c.primary.output);
  assert.ok(ms < 20_000, `exited in ${ms} ms, not after the 60 s witness timeout`);
  assert.match(c.primary.output, /shut down in \d+ ms: .*abandoned the rotation in progress \(nothing published\), database closed/);
  assertAllStored(c.setup.dbFile, leaves);
});

test('a second SIGTERM during a slow shutdown exits at once', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const c = await primaryWithBlackHoledWitness(t, dir.path);
  c.primary.proc.kill('SIGTERM');
  await c.primary.waitForOutput(/SIGTERM: shutting down/);
  const began = Date.now();
  c.primary.proc.kill('SIGTERM');
  const code = await c.primary.exited;
  const ms = Date.now() - began;
  assert.equal(code, 1, c.primary.output);
  assert.match(c.primary.output, /SIGTERM again: exiting at once/);
  assert.doesNotMatch(c.primary.output, /shut down in/, 'it did not wait for the shutdown to finish');
  // Exit 1 without the shutdown line is the proof; the bound only rules out the
  // 30 s safety net, with room for a loaded CI machine.
  assert.ok(ms < 20_000, `exited ${ms} ms after the second SIGTERM`);
});

test('SIGTERM on a secondary mid catch-up: exit 0, one line, and it resumes from what it stored', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const SIZE = 100_000;
  // max-range 10: 10,000 requests, so the catch-up outlasts its first progress line
  // (at 3 s) on a quiet machine; at 100 it could end before that line.
  const primary = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-range': 10 } });
  treeWith(primary.dbFile, randomLeaves(SIZE), 10_000).close();
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());
  const setup = await prepareSecondary(dir.path, { primaryUrl: primary.internalUrl, interval: '100ms' });
  let secondary = await startNodeProcess('secondary', setup);
  t.after(() => secondary.kill9());
  await waitUntil('some leaves stored', () => {
    const m = [...secondary.output.matchAll(/catching up with \S+: ([\d,]+)\//g)].pop();
    return m !== undefined && Number(m[1]?.replaceAll(',', '')) > 0 ? true : undefined;
  }, 60_000, 100);
  const { code, ms } = await sigterm(secondary);
  assert.equal(code, 0, secondary.output);
  assert.ok(ms < 20_000, `exited in ${ms} ms`);
  assert.match(secondary.output, /shut down in \d+ ms: stopped accepting and replicating, verified size \d+, \d+ leaves stored, database closed/);
  secondary = await startNodeProcess('secondary', setup);
  await waitForSize(setup.internalUrl, SIZE, 120_000);
  assert.equal(await secondary.stop(), 0);
});
