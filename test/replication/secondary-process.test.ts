// A secondary as a real process: it stops on divergence without touching its
// stored leaves, and a kill -9 in the middle of a large catch-up resumes
// without duplicates or gaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseSignedTreeHead } from '../../src/formats/messages.js';
import { TreeStore } from '../../src/tree/store.js';
import { makeKey, preparePrimary, prepareSecondary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { http } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { allLeaves, randomLeaves, sameLeaves, treeWith, unsignedHead, waitForSize } from './fixture.js';

test('secondary: a different leaf at a stored index stops replication; stored leaves are untouched', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const primary = await preparePrimary(dir.path, { interval: '200ms' });
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  await submitUntilPublished(primary.publicUrl, Array.from({ length: 30 }, () => makeLeaf(submitter)), 20_000);

  const setup = await prepareSecondary(dir.path, { primaryUrl: primary.internalUrl, interval: '100ms' });
  const forged = (await allLeaves(primary.internalUrl, 20)).slice();
  forged[7] = randomLeaves(1)[0] as Uint8Array;
  const db = TreeStore.open(setup.dbFile);
  db.appendPreordered(0, forged);
  db.setMeta('tree-mode', 'replica');
  db.close();

  const secondary = await startNodeProcess('secondary', setup);
  t.after(() => secondary.kill9());
  await secondary.waitForOutput(/ERROR .*primary and secondary have diverged.*\b7\b/, 10_000);
  // It keeps running and serving its last verified head (nothing verified: size 0).
  await new Promise((r) => setTimeout(r, 500)); // several poll intervals: it must not retry
  assert.ok(secondary.running);
  assert.equal((await unsignedHead(setup.internalUrl)).size, 0);
  assert.equal(parseSignedTreeHead((await http(`${setup.internalUrl}/get-tree-head-to-cosign`)).body).size, 0);
  assert.equal(secondary.output.match(/have diverged/g)?.length, 1, 'reported once, then stopped');
  assert.equal(await secondary.stop(), 0);

  const after = TreeStore.open(setup.dbFile);
  try {
    assert.equal(after.size(), 20, 'nothing appended');
    assert.ok(sameLeaves(after.leaves(0, 20), forged), 'stored leaves unchanged');
  } finally {
    after.close();
  }
});

test('secondary: kill -9 in the middle of a large catch-up resumes without duplicates or gaps', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const SIZE = 200_000;
  const leaves = randomLeaves(SIZE);
  // A tiny max-range makes the catch-up take 20,000 requests (~20 s on a quiet
  // machine; at max-range 100 it ended in ~2 s, before the first progress line
  // at 3 s), so the progress lines it waits for come while it is under way.
  const primary = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-range': 10 } });
  treeWith(primary.dbFile, leaves, 10_000).close(); // the primary's tree, built directly
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());

  const setup = await prepareSecondary(dir.path, { primaryUrl: primary.internalUrl, interval: '100ms' });
  let secondary = await startNodeProcess('secondary', setup);
  t.after(() => secondary.kill9());
  const progress = await secondary.waitForOutput(/catching up with \S+: ([\d,]+)\/200,000 leaves/, 30_000);
  await secondary.kill9();
  const stored = Number(progress[1]?.replaceAll(',', ''));
  assert.ok(stored > 0 && stored < SIZE, `killed in the middle (${stored} stored)`);

  // A clean stop in the middle of a catch-up is prompt, and also resumes.
  secondary = await startNodeProcess('secondary', setup);
  await secondary.waitForOutput(/catching up with \S+: ([\d,]+)\/200,000 leaves/, 30_000);
  const stopping = Date.now();
  assert.equal(await secondary.stop(), 0, secondary.output);
  assert.ok(Date.now() - stopping < 5_000, 'SIGTERM mid catch-up exits promptly');

  secondary = await startNodeProcess('secondary', setup);
  const head = await waitForSize(setup.internalUrl, SIZE, 120_000);
  assert.deepEqual(head, await unsignedHead(primary.internalUrl));
  assert.equal(await secondary.stop(), 0, secondary.output);
  assert.doesNotMatch(secondary.output, / ERROR /, secondary.output);

  const db = TreeStore.open(setup.dbFile);
  try {
    assert.equal(db.size(), SIZE, 'no duplicates');
    for (let i = 0; i < SIZE; i += 20_000) {
      assert.ok(sameLeaves(db.leaves(i, i + 20_000), leaves.slice(i, i + 20_000)), `leaves ${i}..${i + 20_000} identical, no gaps`);
    }
  } finally {
    db.close();
  }
});
