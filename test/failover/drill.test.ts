// The failover drill, with real processes on 127.0.0.1: primary P with
// secondaries Q1 and Q2 under continuous load, P killed with SIGKILL,
// promote-secondary on a secondary, the new primary with the other
// secondary re-pointed and a new empty one, the client carrying on, and the
// real sigsum-monitor following the log through a load balancer all along.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyTreeHeadSignature } from '../../src/formats/checkpoint.js';
import { defaultPrimaryConfigPath } from '../../src/failover/primary-config.js';
import { SthFile } from '../../src/storage/sth-file.js';
import { TreeStore } from '../../src/tree/store.js';
import { prepareSecondary, startNodeProcess, tempDir, type NodeSetup } from '../helpers/log-fixture.js';
import { runCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { sigsumTools } from '../helpers/sigsum-tools.js';
import { prepareCluster } from '../replication/fixture.js';
import {
  assertFailoverOutcome,
  internalHead,
  monitorProcessed,
  promoteSecondary,
  promotedSize,
  repoint,
  startPrimaryUnderLoad,
  startPrimary,
  truncateSecondary,
} from './fixture.js';
import { runAlone } from '../helpers/exclusive.js';

test('failover drill: kill -9 the primary under load, promote a secondary, nothing published is lost or forked', async (t) => {
  const bin = sigsumTools(t);
  if (bin === undefined) return;
  await runAlone(t); // sigsum-monitor's deadlines: never beside the flood or another monitor test
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary: p, secondaries } = await prepareCluster(dir.path, {
    secondaries: 2,
    primaryInterval: '500ms',
    secondaryInterval: '200ms',
    logPubkey: true,
  });
  const procs = new Map<NodeSetup, NodeProcess>();
  t.after(() => Promise.all([...procs.values()].map((proc) => proc.kill9())));
  for (const s of secondaries) procs.set(s, await startNodeProcess('secondary', s));
  // Load: the old primary publishes several heads and answers many 200s, and the monitor follows.
  const { pProc, lb, recorder, client, monitor } = await startPrimaryUnderLoad(t, bin, dir.path, p, 60);

  // 1. kill -9 P between two monitor polls (a poll cut in half would be an
  // alert no load balancer can hide), with add-leaf requests in flight.
  await lb.monitorBetweenPolls();
  await pProc.kill9();
  const pSth = new SthFile(p.sthFile).load();
  assert.ok(verifyTreeHeadSignature(p.signer.publicKey, pSth));
  recorder.add('P', { ...pSth, cosignatures: [] });
  recorder.unwatch('P');

  // The secondaries stop growing once they notice; promote the larger one,
  // as the runbook says (the names Q1 and Q2 are given here).
  await Promise.all(secondaries.map((s) => procs.get(s)!.waitForOutput(/cannot replicate from/, 10_000)));
  const sizes = await Promise.all(secondaries.map(async (s) => (await internalHead(s.internalUrl)).size));
  const [q1, q2] = (sizes[1] as number) > (sizes[0] as number) ? [secondaries[1]!, secondaries[0]!] : [secondaries[0]!, secondaries[1]!];
  const q3 = await prepareSecondary(dir.path, { primaryUrl: q1.internalUrl, interval: '200ms', logPubkeyFile: `${p.keyFile}.pub` }, 'q3');

  await procs.get(q1)!.stop();
  procs.delete(q1);
  const promotion = await promoteSecondary([
    '--config', q1.config,
    '--log-key-file', p.keyFile,
    '--published-head', p.sthFile,
    '--published-head', p.publicUrl,
    '--peer', q2.internalUrl,
    '--secondary-url', q2.internalUrl, '--secondary-pubkey-file', `${q2.keyFile}.pub`,
    '--secondary-url', q3.internalUrl, '--secondary-pubkey-file', `${q3.keyFile}.pub`,
  ]);
  assert.equal(promotion.code, 0, promotion.output);
  assert.match(promotion.output, /^7\. What remains by hand$/m);
  assert.match(promotion.output, new RegExp(`${p.publicUrl.replace(/[/.]/g, '\\$&')}: not reachable, skipped`));
  const firstSize = promotedSize(promotion.output);

  // 2. Q1 as primary; the load balancer sends everything (held requests too) to it.
  const q1Primary = await startPrimary(defaultPrimaryConfigPath(q1.config), 'Q1 primary');
  t.after(() => q1Primary.kill9());
  recorder.watch('Q1', q1.publicUrl);
  lb.switchTo(q1.publicUrl);

  // Q2 re-pointed (its tree is a prefix of Q1's: it continues unchanged), and a new empty Q3.
  await procs.get(q2)!.stop();
  repoint(q2.config, q1.internalUrl);
  procs.set(q2, await startNodeProcess('secondary', q2));
  procs.set(q3, await startNodeProcess('secondary', q3));
  await reattachOrTruncate(q2, procs, firstSize);

  // 3. The client carries on against Q1 for several intervals, until Q1's
  // tree also outgrows everything P had sequenced, then stops.
  const pLocalSize = await localSizeOf(p.dbFile);
  await waitUntil('Q1 publishes several heads beyond the old tree', () => {
    const heads = recorder.heads('Q1');
    const last = heads[heads.length - 1];
    return heads.length >= 4 && last !== undefined && last.size > pLocalSize + 20 ? true : undefined;
  }, 45_000, 100);
  await client.finish(45_000);
  await waitUntil('Q1 publishes its final head', async () => {
    const local = await internalHead(q1.internalUrl);
    const heads = recorder.heads('Q1');
    return heads[heads.length - 1]?.size === local.size ? true : undefined;
  }, 20_000);
  await recorder.stop();

  await assertFailoverOutcome({
    logKey: p.signer.publicKey,
    client,
    recorder,
    old: { name: 'P', publicUrl: p.publicUrl, dbFile: p.dbFile },
    promoted: { name: 'Q1', publicUrl: q1.publicUrl, internalUrl: q1.internalUrl, firstSize },
    secondaries: [q2.internalUrl, q3.internalUrl],
    monitor,
  });

  t.diagnostic(
    `P: ${client.publishedBy(p.publicUrl).length} leaves answered 200, last published size ${pSth.size}, local size ${pLocalSize}; ` +
      `Q1: first size ${firstSize}, ${client.publishedBy(q1.publicUrl).length} leaves answered 200 ` +
      `(${client.publishedBy(q1.publicUrl).filter((r) => r.saw202).length} of them answered 202 before); ` +
      `load balancer: ${lb.held} requests held, ${lb.staleAnswers} stale tree heads; monitor processed ${monitorProcessed(monitor)} leaves`,
  );

  // The old primary never signs again: with its old config it refuses to
  // start, because Q2 now holds a tree that is not a prefix of its own.
  const restart = await runCli(['--role', 'primary', '--config', p.config], 30_000);
  assert.equal(restart.code, 2, restart.output);
  assert.match(restart.output, /refusing to start as primary: .*Retire this node, or re-seed it as a secondary/s);
});

/** Waits until a re-pointed secondary reaches the new primary's size; truncates and restarts it if it reports a divergence. */
async function reattachOrTruncate(s: NodeSetup, procs: Map<NodeSetup, NodeProcess>, upstreamSize: number): Promise<void> {
  const proc = procs.get(s)!;
  const outcome = await waitUntil(`${s.config} re-attaches`, async () => {
    const m = /secondary-truncate --config <this node's config> --to-size (\d+)/.exec(proc.output);
    if (m !== null) return { truncateTo: Number(m[1]) };
    return (await internalHead(s.internalUrl)).size >= upstreamSize ? { truncateTo: undefined } : undefined;
  }, 20_000);
  if (outcome.truncateTo === undefined) return;
  await proc.stop();
  const truncated = await truncateSecondary(['--config', s.config, '--to-size', String(outcome.truncateTo)]);
  assert.equal(truncated.code, 0, truncated.output);
  procs.set(s, await startNodeProcess('secondary', s));
}

async function localSizeOf(dbFile: string): Promise<number> {
  const tree = TreeStore.open(dbFile);
  try {
    return tree.size();
  } finally {
    tree.close();
  }
}
