// A primary and two secondaries as real processes: 2,000 leaves submitted
// concurrently all reach 200, and every secondary's database ends up with the
// primary's leaves at the same indices and the same root. Also what a
// secondary serves: reads publicly (a read replica) but 404 for add-leaf, its own signed head and the
// published head on its internal API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { keyHash } from '../../src/crypto/index.js';
import { checkpointBody, verifyTreeHeadSignature } from '../../src/formats/checkpoint.js';
import { parseCosignedTreeHead, parseSignedTreeHead } from '../../src/formats/messages.js';
import { toHex } from '../../src/hex.js';
import { TreeStore } from '../../src/tree/store.js';
import { makeKey, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { allLeaves, prepareCluster, publishedHead, sameLeaves, unsignedHead, waitForSize } from './fixture.js';

test('replication: primary + 2 secondaries, 2,000 leaves reach 200 and every database agrees', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary, secondaries } = await prepareCluster(dir.path, { secondaries: 2, logPubkey: true });
  const procs = await Promise.all(secondaries.map((s) => startNodeProcess('secondary', s)));
  t.after(() => Promise.all(procs.map((p) => p.kill9())));
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());

  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 2_000 }, () => makeLeaf(submitter));
  await submitUntilPublished(primary.publicUrl, leaves, 45_000, 32);
  const head = await publishedHead(primary.publicUrl);
  assert.equal(head.size, 2_000);

  // Each secondary holds exactly the primary's leaves and root.
  const primaryLeaves = await allLeaves(primary.internalUrl, 2_000);
  for (const s of secondaries) {
    const sh = await waitForSize(s.internalUrl, 2_000);
    assert.equal(sh.size, 2_000);
    assert.deepEqual(sh.rootHash, head.rootHash);
    assert.ok(sameLeaves(await allLeaves(s.internalUrl, 2_000), primaryLeaves), `${s.internalUrl}: identical leaves`);

    // Its own signed head: the log checkpoint format with the secondary's key as origin.
    for (const endpoint of ['get-tree-head-to-cosign', 'get-secondary-tree-head']) {
      const res = await http(`${s.internalUrl}/${endpoint}`);
      assert.equal(res.status, 200, endpoint);
      const sth = parseSignedTreeHead(res.body);
      assert.equal(sth.size, 2_000);
      assert.ok(verifyTreeHeadSignature(s.signer.publicKey, sth), `${endpoint}: signed with the secondary's key`);
      assert.ok(checkpointBody(keyHash(s.signer.publicKey), sth).startsWith(`sigsum.org/v1/tree/${toHex(keyHash(s.signer.publicKey))}\n`));
    }

    // The published head it keeps (log-pubkey-file is set) catches up with the primary's.
    const kept = await waitUntil('the secondary keeps the published head', async () => {
      const res = await http(`${s.internalUrl}/get-tree-head`);
      if (res.status !== 200) return undefined;
      const h = parseCosignedTreeHead(res.body);
      return h.size === 2_000 ? h : undefined;
    });
    assert.ok(verifyTreeHeadSignature(primary.signer.publicKey, kept));
    assert.deepEqual(kept.rootHash, head.rootHash);

    // Publicly, it is a read replica (log-pubkey-file is set), not a log that takes leaves.
    const res = await http(`${s.publicUrl}/add-leaf`, { method: 'POST', body: leaves[0]!.body });
    assert.equal(res.status, 404);
    assert.match(res.body, /^not primary: this node is a read replica/);
    assert.equal((await http(`${s.publicUrl}/get-leaves/0/1`)).status, 200);
  }
  assert.deepEqual((await unsignedHead(primary.internalUrl)).rootHash, head.rootHash);

  // After a clean stop, the databases themselves agree.
  assert.equal(await primaryProc.stop(), 0);
  for (const p of procs) assert.equal(await p.stop(), 0);
  const primaryTree = TreeStore.open(primary.dbFile);
  t.after(() => primaryTree.close());
  for (const s of secondaries) {
    const tree = TreeStore.open(s.dbFile);
    try {
      assert.equal(tree.size(), 2_000);
      assert.deepEqual(tree.rootAt(2_000), primaryTree.rootAt(2_000));
      assert.ok(sameLeaves(tree.leaves(0, 2_000), primaryTree.leaves(0, 2_000)));
    } finally {
      tree.close();
    }
  }
  for (const p of [primaryProc, ...procs]) assert.doesNotMatch(p.output, / ERROR /, p.name);
});
