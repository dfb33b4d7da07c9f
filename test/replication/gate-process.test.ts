// The replication gate with real processes: a kill -9'd secondary holds the
// published head back (new leaves answer 202) until it is restarted and
// catches up; a secondary with the wrong key, and one serving a different
// root, never let the head advance, and the primary's log says why; a
// primary refuses to start when a secondary holds leaves it does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeKey, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { http, runCli, waitUntil } from '../helpers/node-process.js';
import { addLeaf, inParallel, makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { parseSignedTreeHead } from '../../src/formats/messages.js';
import { TreeStore } from '../../src/tree/store.js';
import { VERIFIED_SIZE_KEY } from '../../src/replication/replicator.js';
import { prepareCluster, publishedHead, randomLeaves, unsignedHead, waitForSize } from './fixture.js';

const INTERVAL_MS = 500;

/** Samples the published size over `intervals` rotation intervals. */
async function publishedSizes(publicUrl: string, intervals: number): Promise<number[]> {
  const sizes: number[] = [];
  const until = Date.now() + intervals * INTERVAL_MS;
  while (Date.now() < until) {
    sizes.push((await publishedHead(publicUrl)).size);
    await new Promise((r) => setTimeout(r, 100));
  }
  return sizes;
}

test('gate: a killed secondary holds publication back; restarted, it lets the 202s become 200s', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary, secondaries } = await prepareCluster(dir.path, { secondaries: 2, primaryInterval: `${INTERVAL_MS}ms` });
  const procs = await Promise.all(secondaries.map((s) => startNodeProcess('secondary', s)));
  t.after(() => Promise.all(procs.map((p) => p.kill9())));
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));

  const first = Array.from({ length: 50 }, () => makeLeaf(submitter));
  await submitUntilPublished(primary.publicUrl, first, 20_000);
  const victim = secondaries[1]!;
  await waitForSize(victim.internalUrl, 50);
  const had = parseSignedTreeHead((await http(`${victim.internalUrl}/get-tree-head-to-cosign`)).body).size;
  await procs[1]!.kill9();

  const more = Array.from({ length: 100 }, () => makeLeaf(submitter));
  const statuses = await inParallel(more, 32, (l) => addLeaf(primary.publicUrl, l));
  assert.deepEqual(new Set(statuses), new Set([202]), 'new leaves are accepted, not published');
  await waitForSize(primary.internalUrl, 150); // sequenced on the primary, replicated by the live secondary
  await waitForSize(secondaries[0]!.internalUrl, 150);

  const sizes = await publishedSizes(primary.publicUrl, 4);
  assert.ok(Math.max(...sizes) <= had, `published sizes ${[...new Set(sizes)]} never pass the dead secondary's ${had}`);
  const again = await inParallel(more, 32, (l) => addLeaf(primary.publicUrl, l));
  assert.deepEqual(new Set(again), new Set([202]), 'still 202 after several intervals');
  assert.match(primaryProc.output, new RegExp(`secondary ${victim.internalUrl} counts as size 0: unreachable`));

  procs[1] = await startNodeProcess('secondary', victim);
  await submitUntilPublished(primary.publicUrl, more, 20_000);
  assert.equal((await publishedHead(primary.publicUrl)).size, 150);
  assert.match(primaryProc.output, new RegExp(`secondary ${victim.internalUrl} counts again`));
});

test('gate: a secondary with the wrong key never lets the head advance', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  makeKey(join(dir.path, 'stranger.key'));
  const { primary, secondaries } = await prepareCluster(dir.path, {
    secondaries: 1,
    primaryInterval: `${INTERVAL_MS}ms`,
    pubkeyFileFor: () => join(dir.path, 'stranger.key.pub'),
  });
  const secondary = await startNodeProcess('secondary', secondaries[0]!);
  t.after(() => secondary.kill9());
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 20 }, () => makeLeaf(submitter));
  const statuses = await inParallel(leaves, 8, (l) => addLeaf(primary.publicUrl, l));
  assert.deepEqual(new Set(statuses), new Set([202]));
  await waitForSize(secondaries[0]!.internalUrl, 20); // the secondary did replicate them

  const sizes = await publishedSizes(primary.publicUrl, 4);
  assert.deepEqual(new Set(sizes), new Set([0]));
  assert.match(primaryProc.output, /counts as size 0: its tree head \(size \d+\) is not signed by the key in its secondary-pubkey-file/);
  assert.equal(primaryProc.output.match(/counts as size 0: its tree head/g)?.length, 1, 'logged once, not every rotation');
  // The startup fork check did not trust it either.
  assert.match(primaryProc.output, /not trusting it for the fork check/);
});

test('gate: a secondary whose database holds other leaves blocks startup, then publication', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary, secondaries } = await prepareCluster(dir.path, { secondaries: 1, primaryInterval: `${INTERVAL_MS}ms` });
  const setup = secondaries[0]!;
  // A database made by hand: 10 leaves the primary never had, marked verified.
  const forged = TreeStore.open(setup.dbFile);
  forged.appendPreordered(0, randomLeaves(10));
  forged.setMeta('tree-mode', 'replica');
  forged.setMeta(VERIFIED_SIZE_KEY, '10');
  forged.close();

  // While it serves those 10 leaves, a primary with an empty tree must not start.
  let secondary = await startNodeProcess('secondary', setup);
  t.after(() => secondary.kill9());
  await waitUntil('the secondary serves its forged head', async () => ((await unsignedHead(setup.internalUrl)).size === 10 ? true : undefined));
  const refused = await runCli(['--role', 'primary', '--config', primary.config], 20_000);
  assert.equal(refused.code, 2, refused.output);
  assert.match(refused.output, new RegExp(`refusing to start as primary: secondary ${setup.internalUrl} holds 10 leaves but this node's tree has only 0`));
  assert.match(refused.output, /Someone else sequenced/);

  // With the secondary away the primary starts; once it has more leaves than
  // the secondary, the secondary's root at size 10 is simply inconsistent.
  await secondary.kill9();
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 20 }, () => makeLeaf(submitter));
  assert.deepEqual(new Set(await inParallel(leaves, 8, (l) => addLeaf(primary.publicUrl, l))), new Set([202]));
  await waitForSize(primary.internalUrl, 20);
  secondary = await startNodeProcess('secondary', setup);

  await secondary.waitForOutput(/primary and secondary have diverged/, 10_000);
  await primaryProc.waitForOutput(/counts as size 0: its root at size 10 is [0-9a-f]{64} but this primary's is [0-9a-f]{64} \(inconsistent\)/, 10_000);
  const sizes = await publishedSizes(primary.publicUrl, 4);
  assert.deepEqual(new Set(sizes), new Set([0]));
  assert.deepEqual(new Set(await inParallel(leaves, 8, (l) => addLeaf(primary.publicUrl, l))), new Set([202]));
});
