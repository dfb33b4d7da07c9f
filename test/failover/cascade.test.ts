// Rebuilding a primary where the key lives, from a keyless secondary
// (cascading replication): P with secondary Q1; P is lost with its site; a
// fresh node N replicates everything from Q1, is promoted with the log key,
// and Q1 re-attaches as N's secondary. The same assertions as the drill,
// with sigsum-monitor following the log through the load balancer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCosignedTreeHead } from '../../src/formats/messages.js';
import { defaultPrimaryConfigPath } from '../../src/failover/primary-config.js';
import { SthFile } from '../../src/storage/sth-file.js';
import { TreeStore } from '../../src/tree/store.js';
import { prepareSecondary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { http, runCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { sigsumTools } from '../helpers/sigsum-tools.js';
import { prepareCluster } from '../replication/fixture.js';
import { assertFailoverOutcome, internalHead, promoteSecondary, promotedSize, repoint, startPrimary, startPrimaryUnderLoad } from './fixture.js';
import { runAlone } from '../helpers/exclusive.js';

async function publishedRecordSize(internalUrl: string): Promise<number | undefined> {
  const res = await http(`${internalUrl}/get-tree-head`);
  return res.status === 200 ? parseCosignedTreeHead(res.body).size : undefined;
}

test('cascading failover: a fresh node replicates from the surviving secondary, is promoted, and that secondary re-attaches to it', async (t) => {
  const bin = sigsumTools(t);
  if (bin === undefined) return;
  await runAlone(t); // sigsum-monitor's deadlines: never beside the flood or another monitor test
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary: p, secondaries } = await prepareCluster(dir.path, { secondaries: 1, primaryInterval: '500ms', secondaryInterval: '200ms', logPubkey: true });
  const q1 = secondaries[0]!;
  let q1Proc: NodeProcess = await startNodeProcess('secondary', q1);
  t.after(() => q1Proc.kill9());
  const { pProc, lb, recorder, client, monitor } = await startPrimaryUnderLoad(t, bin, dir.path, p, 40);

  // Site A is lost: P dies (its files only serve the test's assertions).
  await lb.monitorBetweenPolls();
  await pProc.kill9();
  recorder.add('P', { ...new SthFile(p.sthFile).load(), cosignatures: [] });
  recorder.unwatch('P');
  await q1Proc.waitForOutput(/cannot replicate from/, 10_000);
  const q1Head = await internalHead(q1.internalUrl);
  const q1Published = await publishedRecordSize(q1.internalUrl);
  assert.ok(q1Published !== undefined && q1Published <= q1Head.size, 'Q1 kept the published tree head');

  // A fresh node N at site A replicates from Q1 (leaves and the published head) to completion.
  const n = await prepareSecondary(dir.path, { primaryUrl: q1.internalUrl, interval: '200ms', logPubkeyFile: `${p.keyFile}.pub` }, 'n');
  const nSecondary = await startNodeProcess('secondary', n);
  t.after(() => nSecondary.kill9());
  await waitUntil('N holds all of Q1', async () => {
    const head = await internalHead(n.internalUrl);
    return head.size === q1Head.size && (await publishedRecordSize(n.internalUrl)) === q1Published ? true : undefined;
  }, 20_000);
  assert.deepEqual((await internalHead(n.internalUrl)).rootHash, q1Head.rootHash);
  await nSecondary.stop();

  // Promote N with the log key; its own record (from Q1) is the published head to check.
  const promotion = await promoteSecondary([
    '--config', n.config,
    '--log-key-file', p.keyFile,
    '--peer', q1.internalUrl,
    '--secondary-url', q1.internalUrl, '--secondary-pubkey-file', `${q1.keyFile}.pub`,
  ]);
  assert.equal(promotion.code, 0, promotion.output);
  assert.match(promotion.output, new RegExp(`this node's record of the published tree head: size ${q1Published}, signed by the log key, same root here: ok`));
  const firstSize = promotedSize(promotion.output);
  assert.equal(firstSize, q1Head.size);

  const nPrimary = await startPrimary(defaultPrimaryConfigPath(n.config), 'N primary');
  t.after(() => nPrimary.kill9());
  recorder.watch('N', n.publicUrl);
  lb.switchTo(n.publicUrl);

  // Q1's tree is a prefix of N's: it continues unchanged after re-pointing.
  await q1Proc.stop();
  repoint(q1.config, n.internalUrl);
  q1Proc = await startNodeProcess('secondary', q1);

  const pLocal = TreeStore.open(p.dbFile);
  const pLocalSize = pLocal.size();
  pLocal.close();
  await waitUntil('N publishes several heads beyond the old tree', () => {
    const heads = recorder.heads('N');
    const last = heads[heads.length - 1];
    return heads.length >= 4 && last !== undefined && last.size > pLocalSize + 20 ? true : undefined;
  }, 45_000, 100);
  await client.finish(45_000);
  await waitUntil('N publishes its final head', async () => {
    const heads = recorder.heads('N');
    return heads[heads.length - 1]?.size === (await internalHead(n.internalUrl)).size ? true : undefined;
  }, 20_000);
  await recorder.stop();
  assert.doesNotMatch(q1Proc.output, /diverged/, 'Q1 re-attached without a divergence');

  await assertFailoverOutcome({
    logKey: p.signer.publicKey,
    client,
    recorder,
    old: { name: 'P', publicUrl: p.publicUrl, dbFile: p.dbFile },
    promoted: { name: 'N', publicUrl: n.publicUrl, internalUrl: n.internalUrl, firstSize },
    secondaries: [q1.internalUrl],
    monitor,
  });
  t.diagnostic(
    `P: last published ${recorder.heads('P').at(-1)?.size}, local ${pLocalSize}; N: first ${firstSize}, final ${recorder.heads('N').at(-1)?.size}; ` +
      `load balancer: ${lb.held} requests held, ${lb.staleAnswers} stale tree heads`,
  );

  // If site A's old disk comes back, P refuses to sign again: Q1 now holds N's tree.
  const restart = await runCli(['--role', 'primary', '--config', p.config], 30_000);
  assert.equal(restart.code, 2, restart.output);
  assert.match(restart.output, /refusing to start as primary/);
});
