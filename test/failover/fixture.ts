// Shared pieces of the failover tests: running promote-secondary and
// secondary-truncate, re-pointing a secondary, starting a promoted primary,
// sigsum-monitor behind the load balancer, and the drill's final assertions.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { parseConsistencyProof, parseTreeHead } from '../../src/formats/messages.js';
import { verifyTreeHeadSignature } from '../../src/formats/checkpoint.js';
import type { CosignedTreeHead, TreeHead } from '../../src/formats/tree-head.js';
import { toHex } from '../../src/hex.js';
import { TreeStore } from '../../src/tree/store.js';
import { verifyConsistency } from '../../src/tree/verify.js';
import { leafHash } from '../../src/tree/hash.js';
import type { PublicKey } from '../../src/types.js';
import { http, runCli, spawnCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { startTool, type RunningTool } from '../helpers/sigsum-tools.js';
import { InternalApiClient } from '../../src/internal-api/client.js';
import { makeKey, startNodeProcess, type PrimarySetup } from '../helpers/log-fixture.js';
import { HeadRecorder } from './head-recorder.js';
import { LoadBalancer } from './load-balancer.js';
import { SubmittingClient } from './submitting-client.js';

export async function promoteSecondary(args: string[]): Promise<{ code: number | null; output: string }> {
  return runCli(['promote-secondary', ...args], 60_000);
}

export async function truncateSecondary(args: string[]): Promise<{ code: number | null; output: string }> {
  return runCli(['secondary-truncate', ...args], 60_000);
}

/** The size promote-secondary switched the database at (the new primary's first tree head). */
export function promotedSize(output: string): number {
  const m = /switched the database from replica to appending state at size (\d+)/.exec(output);
  assert.ok(m, `promote-secondary did not switch the database:\n${output}`);
  return Number(m[1]);
}

/** Rewrites a secondary's config to replicate from another node. */
export function repoint(configFile: string, upstreamInternalUrl: string): void {
  const text = readFileSync(configFile, 'utf8');
  assert.match(text, /^primary-url = .*$/m);
  writeFileSync(configFile, text.replace(/^primary-url = .*$/m, `primary-url = ${JSON.stringify(upstreamInternalUrl)}`));
}

/** Starts a primary from a config file (a promoted node's) and waits until it serves. */
export async function startPrimary(configFile: string, name: string): Promise<NodeProcess> {
  const p = spawnCli(['--role', 'primary', '--config', configFile], { name });
  await p.waitForOutput(/public API on http:\/\/\S+/, 20_000);
  return p;
}

/** A node's replicated (or sequenced) head from its internal API. */
export async function internalHead(internalUrl: string): Promise<TreeHead> {
  const res = await http(`${internalUrl}/get-tree-head-unsigned`);
  if (res.status !== 200) throw new Error(`${internalUrl}/get-tree-head-unsigned: ${res.status} ${res.body}`);
  return parseTreeHead(res.body);
}

export function publicKeyHex(key: PublicKey): string {
  return toHex(key);
}

/** sigsum-monitor following the log at `logUrl`, polling every second, for leaves signed by `submitPubFile`'s key. */
export function startMonitor(t: TestContext, bin: string, dir: string, logKey: PublicKey, logUrl: string, submitPubFile: string): RunningTool {
  const policy = join(dir, 'monitor.policy');
  writeFileSync(policy, `log ${toHex(logKey)} ${logUrl}\nquorum none\n`);
  const monitor = startTool(bin, 'sigsum-monitor', ['-p', policy, '-i', '1s', submitPubFile]);
  t.after(() => monitor.stop());
  return monitor;
}

/** The largest "total processed" sigsum-monitor reported: leaves it fetched and checked for inclusion. */
export function monitorProcessed(monitor: RunningTool): number {
  const { stdout } = monitor.output();
  let max = 0;
  for (const m of stdout.matchAll(/total processed (\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

export function assertMonitorQuiet(monitor: RunningTool): void {
  const out = monitor.output();
  assert.doesNotMatch(out.stdout + out.stderr, /alert|fatal|inconsistent/i, `sigsum-monitor raised an alert:\n${out.stderr}`);
  assert.equal(monitor.child.exitCode, null, `sigsum-monitor is still running:\n${out.stderr}`);
}

/** All leaf hashes of a node's tree [0, size), by index, through its internal get-leaves. */
export async function leafHashes(internalUrl: string, size: number): Promise<string[]> {
  const client = new InternalApiClient({ baseUrl: internalUrl, timeoutMs: 10_000 });
  try {
    const out: string[] = [];
    while (out.length < size) {
      const page = await client.leaves(out.length, size);
      if (page.length === 0) throw new Error(`${internalUrl}: at end of tree at ${out.length} < ${size}`);
      for (const leaf of page) out.push(toHex(leafHash(leaf)));
    }
    return out;
  } finally {
    await client.close();
  }
}

/**
 * Starts sigsum-monitor, and the client once the monitor has finished its
 * first poll. The monitor allows one second per poll for all its requests;
 * started later, its first poll would fetch and check every leaf so far at
 * once, while a busy machine is still starting the Go runtime.
 */
export async function startMonitorThenLoad(
  t: TestContext,
  bin: string,
  dir: string,
  logKey: PublicKey,
  lb: LoadBalancer,
  client: SubmittingClient,
  submitPubFile: string,
): Promise<RunningTool> {
  const monitor = startMonitor(t, bin, dir, logKey, lb.url, submitPubFile);
  await lb.monitorBetweenPolls(50, 20_000);
  client.start();
  return monitor;
}

/** Waits until the old primary has answered `leaves` 200s and published a few heads, and the monitor follows. */
export async function waitForLoad(client: SubmittingClient, recorder: HeadRecorder, primary: { name: string; publicUrl: string }, monitor: RunningTool, leaves: number): Promise<void> {
  const state = (): string =>
    `${client.publishedBy(primary.publicUrl).length} leaves answered 200 (of ${client.records.length}), ` +
    `${recorder.heads(primary.name).length} heads recorded, monitor processed ${monitorProcessed(monitor)}, client errors: ${client.errors.slice(0, 3).join('; ')}`;
  await waitUntil('load on the old primary', () =>
    client.publishedBy(primary.publicUrl).length >= leaves && monitorProcessed(monitor) > 0 && recorder.heads(primary.name).length >= 3 ? true : undefined,
  30_000, 100).catch((err: Error) => {
    throw new Error(`${err.message}: ${state()}; monitor stderr: ${monitor.output().stderr.slice(-1000)}`);
  });
}

/** The drill's opening, shared by every failover scenario. */
export interface PrimaryUnderLoad {
  pProc: NodeProcess;
  lb: LoadBalancer;
  recorder: HeadRecorder;
  client: SubmittingClient;
  monitor: RunningTool;
}

/**
 * Starts primary P behind the load balancer, records its heads, starts
 * sigsum-monitor and a submitting client through the load balancer, and
 * waits until P has answered `leaves` 200s. Everything is cleaned up by t.after.
 */
export async function startPrimaryUnderLoad(t: TestContext, bin: string, dir: string, p: PrimarySetup, leaves: number): Promise<PrimaryUnderLoad> {
  const pProc = await startNodeProcess('primary', p);
  t.after(() => pProc.kill9());
  const lb = await LoadBalancer.start(p.publicUrl);
  t.after(() => lb.close());
  const recorder = new HeadRecorder();
  recorder.watch('P', p.publicUrl);
  recorder.start();
  t.after(() => recorder.stop());
  const submitKey = join(dir, 'submitter.key');
  const client = new SubmittingClient(lb.url, makeKey(submitKey));
  t.after(() => client.finish(0).catch(() => undefined));
  const monitor = await startMonitorThenLoad(t, bin, dir, p.signer.publicKey, lb, client, `${submitKey}.pub`);
  await waitForLoad(client, recorder, { name: 'P', publicUrl: p.publicUrl }, monitor, leaves);
  return { pProc, lb, recorder, client, monitor };
}

export interface FailoverOutcome {
  logKey: PublicKey;
  client: SubmittingClient;
  recorder: HeadRecorder;
  old: { name: string; publicUrl: string; dbFile: string };
  promoted: { name: string; publicUrl: string; internalUrl: string; firstSize: number };
  /** Internal URLs of the new primary's secondaries. */
  secondaries: string[];
  monitor: RunningTool;
}

/**
 * The drill's assertions, once the client has finished: no 200 lost or
 * moved, every 202 ended in 200, every head of both primaries consistent
 * with the final tree, the secondaries converged, and the monitor followed
 * without an alert.
 */
export async function assertFailoverOutcome(o: FailoverOutcome): Promise<void> {
  const oldHeads = o.recorder.heads(o.old.name);
  const newHeads = o.recorder.heads(o.promoted.name);
  assert.ok(oldHeads.length >= 2, `the old primary published several tree heads (${oldHeads.length})`);
  assert.ok(newHeads.length >= 2, `the new primary published several tree heads (${newHeads.length})`);
  const oldLast = oldHeads[oldHeads.length - 1] as CosignedTreeHead;
  const final = newHeads[newHeads.length - 1] as CosignedTreeHead;

  // The new primary's first head (its local tree at promotion) covers the old one's last.
  assert.ok(o.promoted.firstSize >= oldLast.size, `first size ${o.promoted.firstSize} ≥ the old primary's last published ${oldLast.size}`);
  assert.ok((newHeads[0] as CosignedTreeHead).size >= o.promoted.firstSize);

  // Every published head, in order, signed by the log and a prefix of the final tree.
  const all = [...oldHeads, ...newHeads];
  for (let i = 0; i < all.length; i++) {
    const head = all[i] as CosignedTreeHead;
    assert.ok(verifyTreeHeadSignature(o.logKey, head), `head ${i} (size ${head.size}) is signed by the log key`);
    if (i > 0) assert.ok(head.size >= (all[i - 1] as CosignedTreeHead).size, `head ${i} does not go back in size`);
    await assertConsistent(o.promoted.publicUrl, head, final);
  }

  // Leaves: every 200 from the old primary is at the same index in the new tree
  // (by the client's inclusion proof, and in the old primary's database);
  // every leaf got 200 in the end, and the 202s at the failover from the new primary.
  const newTree = await leafHashes(o.promoted.internalUrl, final.size);
  const indexInNew = new Map(newTree.map((h, i) => [h, i]));
  const oldDb = TreeStore.open(o.old.dbFile);
  try {
    const fromOld = o.client.publishedBy(o.old.publicUrl);
    assert.ok(fromOld.length > 0, 'the old primary answered 200s');
    for (const r of fromOld) {
      const oldIndex = oldDb.indexOfLeafHash(r.leaf.leafHash);
      assert.notEqual(oldIndex, undefined, `leaf ${r.leafHashHex} (200 from the old primary) is in its database`);
      if (r.index !== undefined) assert.equal(r.index, oldIndex, 'the inclusion proof and the database agree');
      assert.equal(indexInNew.get(r.leafHashHex), oldIndex, `leaf ${r.leafHashHex} keeps index ${oldIndex}`);
    }
  } finally {
    oldDb.close();
  }
  const fromNew = o.client.publishedBy(o.promoted.publicUrl);
  assert.equal(fromNew.length + o.client.publishedBy(o.old.publicUrl).length, o.client.records.length, 'every leaf got 200 from one of the two primaries');
  assert.ok(fromNew.some((r) => r.saw202), 'some leaves answered 202 before the failover got 200 from the new primary');
  for (const r of fromNew) {
    assert.equal(indexInNew.get(r.leafHashHex), r.index, `leaf ${r.leafHashHex}: its inclusion proof index is its place in the tree`);
    assert.ok((r.index as number) < final.size);
  }
  assert.deepEqual(o.client.errors, [], 'the client saw no error answers');

  // The secondaries hold exactly the new primary's tree.
  const newLocal = await internalHead(o.promoted.internalUrl);
  for (const s of o.secondaries) {
    const head = await waitUntil(`${s} reaches the new primary's tree`, async () => {
      const h = await internalHead(s);
      return h.size === newLocal.size ? h : undefined;
    }, 30_000);
    assert.equal(toHex(head.rootHash), toHex(newLocal.rootHash), `${s} has the new primary's root`);
  }

  // The monitor checked every published leaf, through the failover, without an alert.
  await waitUntil('sigsum-monitor processes the final tree', () => (monitorProcessed(o.monitor) >= final.size ? true : undefined), 30_000, 200).catch(
    (err: Error) => {
      throw new Error(`${err.message}; monitor output:\n${o.monitor.output().stdout.slice(-2000)}\n${o.monitor.output().stderr}`);
    },
  );
  assertMonitorQuiet(o.monitor);
}

/** `head` is a prefix of `final`, by a consistency proof from the new primary's public API. */
async function assertConsistent(publicUrl: string, head: TreeHead, final: TreeHead): Promise<void> {
  if (head.size === 0) return;
  if (head.size === final.size) {
    assert.equal(toHex(head.rootHash), toHex(final.rootHash), `heads of size ${head.size} agree`);
    return;
  }
  const res = await http(`${publicUrl}/get-consistency-proof/${head.size}/${final.size}`);
  assert.equal(res.status, 200, res.body);
  const path = parseConsistencyProof(res.body);
  assert.ok(verifyConsistency(head.size, final.size, head.rootHash, final.rootHash, path), `head of size ${head.size} is consistent with the final head (size ${final.size})`);
}
