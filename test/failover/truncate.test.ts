// secondary-truncate with real processes: a secondary holding leaves the old
// primary sequenced but never published (at indices where the new primary
// sequenced others) is reported as diverged, with the command to run; the
// command refuses while the node runs, below the published head, beyond the
// tree and on a primary's database; --dry-run lists what would go; after
// truncating, the secondary re-attaches and the primary publishes again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { toHex } from '../../src/hex.js';
import { VERIFIED_SIZE_KEY } from '../../src/replication/replicator.js';
import { leafHash } from '../../src/tree/hash.js';
import { TreeStore } from '../../src/tree/store.js';
import { makeKey, startNodeProcess, tempDir, writeToml, type NodeSetup } from '../helpers/log-fixture.js';
import { http, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { addLeaf, makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { parseCosignedTreeHead } from '../../src/formats/messages.js';
import { prepareCluster, randomLeaves } from '../replication/fixture.js';
import { internalHead, truncateSecondary } from './fixture.js';

function refusal(output: string): string {
  const m = /^   REFUSED: (.*)$/m.exec(output);
  assert.ok(m, `no refusal in:\n${output}`);
  return m[1] as string;
}

function storedSize(s: NodeSetup): { size: number; verified: string | undefined } {
  const tree = TreeStore.open(s.dbFile);
  try {
    return { size: tree.size(), verified: tree.getMeta(VERIFIED_SIZE_KEY) };
  } finally {
    tree.close();
  }
}

test('secondary-truncate: a diverged secondary drops its unpublished leaves, never below a published head, and re-attaches', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary: p, secondaries } = await prepareCluster(dir.path, { secondaries: 1, primaryInterval: '300ms', secondaryInterval: '100ms', logPubkey: true });
  const q = secondaries[0] as NodeSetup;
  let qProc: NodeProcess = await startNodeProcess('secondary', q);
  t.after(() => qProc.kill9());
  let pProc: NodeProcess = await startNodeProcess('primary', p);
  t.after(() => pProc.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  await submitUntilPublished(p.publicUrl, Array.from({ length: 30 }, () => makeLeaf(submitter)), 30_000);
  await waitUntil('Q keeps the published head of size 30', async () => {
    const res = await http(`${q.internalUrl}/get-tree-head`);
    return res.status === 200 && parseCosignedTreeHead(res.body).size === 30 ? true : undefined;
  });
  await qProc.stop();
  await pProc.stop();

  // Q also holds 5 leaves that an old primary sequenced (and Q verified
  // against its root) but never published.
  const unpublished = randomLeaves(5);
  const tree = TreeStore.open(q.dbFile);
  tree.appendPreordered(30, unpublished);
  tree.setMeta(VERIFIED_SIZE_KEY, '35');
  tree.close();

  // The primary Q follows sequences 10 other leaves at those indices (202: Q does not confirm them).
  pProc = await startNodeProcess('primary', p);
  const later = Array.from({ length: 10 }, () => makeLeaf(submitter));
  for (const leaf of later) assert.equal(await addLeaf(p.publicUrl, leaf), 202);
  await waitUntil('P sequences them', async () => ((await internalHead(p.internalUrl)).size === 40 ? true : undefined));

  qProc = await startNodeProcess('secondary', q);
  await qProc.waitForOutput(/primary and secondary have diverged .*secondary-truncate --config <this node's config> --to-size 30\b/, 15_000);

  let run = await truncateSecondary(['--config', q.config, '--to-size', '30']);
  assert.equal(run.code, 1, run.output);
  assert.match(refusal(run.output), /is in use/);
  await qProc.stop();
  const before = storedSize(q);
  assert.equal(before.size, 40, 'Q stored the new leaves after its own, then found the roots differ');

  run = await truncateSecondary(['--config', q.config, '--to-size', '29']);
  assert.equal(run.code, 1, run.output);
  assert.match(refusal(run.output), /--to-size 29 is below the newest published tree head this node verified \(size 30\)/);
  run = await truncateSecondary(['--config', q.config, '--to-size', '41']);
  assert.match(refusal(run.output), /--to-size 41 is beyond the local tree of 40 leaves/);

  run = await truncateSecondary(['--config', q.config, '--to-size', '30', '--dry-run']);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /10 leaves, indices \[30, 40\):/);
  assert.match(run.output, new RegExp(`index 30 leaf hash ${toHex(leafHash(unpublished[0] as Uint8Array))}`));
  assert.match(run.output, /would discard 10 leaves/);
  assert.deepEqual(storedSize(q), before, 'a dry run changes nothing');

  run = await truncateSecondary(['--config', q.config, '--to-size', '30']);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /discarded 10 leaves; start the secondary again and it replicates from index 30/);
  assert.deepEqual(storedSize(q), { size: 30, verified: '30' });

  // Re-attached: Q replicates the primary's leaves, and the primary publishes them.
  qProc = await startNodeProcess('secondary', q);
  await submitUntilPublished(p.publicUrl, later, 30_000);
  const head = await waitUntil('Q holds the primary\'s tree', async () => {
    const h = await internalHead(q.internalUrl);
    return h.size === 40 ? h : undefined;
  });
  assert.deepEqual(head.rootHash, (await internalHead(p.internalUrl)).rootHash);
  assert.doesNotMatch(qProc.output, /diverged/);

  // A primary's tree is never truncated.
  await pProc.stop();
  const asSecondary = join(dir.path, 'primary-as-secondary.toml');
  writeToml(asSecondary, { 'key-file': p.keyFile, 'db-file': p.dbFile }, { secondary: { 'primary-url': q.internalUrl } });
  run = await truncateSecondary(['--config', asSecondary, '--to-size', '30']);
  assert.equal(run.code, 1, run.output);
  assert.match(refusal(run.output), /is not a secondary's database \(lifecycle state appending\)/);
});
