// Replication figures, over loopback with real processes:
//  1. catch-up: a fresh secondary replicating a primary's tree of `leaves`
//     leaves; leaves/s, and its ratio to the local tree append rate measured
//     in the same run (building the primary's tree). Targets: ≥ 50,000/s, ratio ≥ 0.5.
//  2. steady state: a primary and two secondaries under a sustained add-leaf
//     load; replication lag (a size's first sight on the primary's local tree
//     to its first sight on every secondary) p50/p99, and publication latency
//     (first add-leaf to 200) p50/p99. Target: p99 lag < 2 × poll interval.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { generateSeed, signerFromSeed } from '../src/crypto/index.js';
import { signLeaf } from '../src/formats/leaf.js';
import { formatAddLeafRequest, parseCosignedTreeHead, parseTreeHead } from '../src/formats/messages.js';
import { TreeStore } from '../src/tree/store.js';
import { asHash } from '../src/types.js';
import { preparePrimary, prepareSecondary, startNodeProcess, tempDir, writePrimaryConfig } from '../test/helpers/log-fixture.js';
import type { NodeProcess } from '../test/helpers/node-process.js';
import { cpuSeconds, percentile } from './proc.js';

export interface ReplicationBenchOptions {
  /** Leaves in the primary's tree for the catch-up. */
  leaves?: number;
  /** The primary's [primary] max-range (its internal get-leaves page size). */
  maxRange?: number;
  /** Sustained add-leaf rate for the lag measurement. */
  rate?: number;
  /** How long to sustain it. */
  seconds?: number;
  /** The secondaries' poll interval in ms (their default is 1s). */
  secondaryIntervalMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function getText(pool: Pool, path: string): Promise<string> {
  const res = await pool.request({ path, method: 'GET' });
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${body}`);
  return body;
}

export async function benchReplication(opts: ReplicationBenchOptions = {}): Promise<Record<string, number>> {
  const catchUp = await benchCatchUp(opts.leaves ?? 1_000_000, opts.maxRange ?? 512);
  const steady = await benchSteadyState(opts.rate ?? 2_000, opts.seconds ?? 20, opts.secondaryIntervalMs ?? 1_000);
  return { ...catchUp, ...steady };
}

export async function benchCatchUp(count: number, maxRange: number): Promise<Record<string, number>> {
  const dir = tempDir('sigsum-bench-replication-');
  const procs: NodeProcess[] = [];
  try {
    const primary = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-range': maxRange } });
    // The primary's tree, built directly in durable batches of 1,000: this is
    // also the local append rate the catch-up is compared to.
    const store = TreeStore.open(primary.dbFile);
    const batch = 1_000;
    let appendMs = 0;
    let appendCpu = 0;
    for (let done = 0; done < count; done += batch) {
      const n = Math.min(batch, count - done);
      const bytes = randomBytes(128 * n);
      const leaves = Array.from({ length: n }, (_v, i) => new Uint8Array(bytes.subarray(128 * i, 128 * (i + 1))));
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      store.appendLeaves(leaves);
      const used = process.cpuUsage(cpu0);
      appendMs += performance.now() - t0;
      appendCpu += (used.user + used.system) / 1e6;
    }
    store.close();
    const appendRate = (count * 1000) / appendMs;

    const primaryProc = await startNodeProcess('primary', primary);
    procs.push(primaryProc);
    const secondary = await prepareSecondary(dir.path, { primaryUrl: primary.internalUrl, interval: '100ms' });
    const pool = new Pool(secondary.internalUrl, { connections: 1 });
    try {
      const t0 = performance.now();
      const secondaryProc = await startNodeProcess('secondary', secondary);
      procs.push(secondaryProc);
      const ready = performance.now();
      // Where the catch-up's time goes: CPU of the serving primary and of the
      // appending secondary (all threads) while it runs.
      const cpuOf = (p: NodeProcess): number => cpuSeconds(p.proc.pid as number);
      const primaryCpu0 = cpuOf(primaryProc);
      const secondaryCpu0 = cpuOf(secondaryProc);
      for (;;) {
        if (parseTreeHead(await getText(pool, '/get-tree-head-unsigned')).size >= count) break;
        if (performance.now() - t0 > 300_000) throw new Error('catch-up took longer than 5 minutes');
        await sleep(20);
      }
      const seconds = (performance.now() - ready) / 1000;
      const rate = count / seconds;
      const primaryCpu = cpuOf(primaryProc) - primaryCpu0;
      const secondaryCpu = cpuOf(secondaryProc) - secondaryCpu0;
      return {
        'catch-up leaves': count,
        'catch-up primary max-range': maxRange,
        'local tree append leaves/s (batches of 1,000)': appendRate,
        'catch-up leaves/s (target ≥ 50,000)': rate,
        'catch-up ratio to local append rate (target ≥ 0.5)': rate / appendRate,
        'catch-up seconds': seconds,
        'secondary process start ms': ready - t0,
        'local tree append CPU µs per leaf': (appendCpu * 1e6) / count,
        'catch-up primary CPU µs per leaf (get-leaves serving)': (primaryCpu * 1e6) / count,
        'catch-up secondary CPU µs per leaf (fetch, parse, append)': (secondaryCpu * 1e6) / count,
      };
    } finally {
      await pool.close();
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    dir.remove();
  }
}

/** First time (ms) each size was seen, from polling a node's size. */
class SizeWatch {
  readonly seen: Array<{ size: number; at: number }> = [];
  record(size: number, at: number): void {
    const last = this.seen[this.seen.length - 1];
    if (last === undefined || size > last.size) this.seen.push({ size, at });
  }
  /** When the size first was ≥ size, or undefined. */
  firstAtLeast(size: number): number | undefined {
    let lo = 0;
    let hi = this.seen.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.seen[mid] as { size: number }).size >= size) hi = mid;
      else lo = mid + 1;
    }
    return this.seen[lo]?.at;
  }
}

export async function benchSteadyState(rate: number, seconds: number, secondaryIntervalMs: number): Promise<Record<string, number>> {
  const dir = tempDir('sigsum-bench-replication-');
  const procs: NodeProcess[] = [];
  const pools: Pool[] = [];
  try {
    const primary = await preparePrimary(dir.path, { interval: '1s' });
    const secondaries = [];
    for (let i = 0; i < 2; i++) {
      secondaries.push(
        await prepareSecondary(dir.path, { primaryUrl: primary.internalUrl, interval: `${secondaryIntervalMs}ms` }, `secondary${i}`),
      );
    }
    writePrimaryConfig(primary, {
      interval: '1s',
      secondaries: secondaries.map((s) => ({ url: s.internalUrl, pubkeyFile: `${s.keyFile}.pub` })),
    });
    for (const s of secondaries) procs.push(await startNodeProcess('secondary', s));
    procs.push(await startNodeProcess('primary', primary));

    // Sign everything first so the load generator only does HTTP.
    const total = rate * seconds;
    const signers = Array.from({ length: 8 }, () => signerFromSeed(generateSeed()));
    const bodies = Array.from({ length: total }, (_v, i) => {
      const signer = signers[i % signers.length]!;
      const message = asHash(new Uint8Array(randomBytes(32)));
      const leaf = signLeaf(signer, message);
      return formatAddLeafRequest({ message, signature: leaf.signature, publicKey: signer.publicKey });
    });

    const publicPool = new Pool(primary.publicUrl, { connections: 64 });
    const watchPools = [primary.internalUrl, ...secondaries.map((s) => s.internalUrl)].map((u) => new Pool(u, { connections: 1 }));
    const headPool = new Pool(primary.publicUrl, { connections: 1 });
    pools.push(publicPool, headPool, ...watchPools);
    const watches = watchPools.map(() => new SizeWatch());
    const publishedWatch = new SizeWatch();
    let watching = true;
    const watchers = [
      ...watchPools.map(async (pool, i) => {
        while (watching) {
          const size = parseTreeHead(await getText(pool, '/get-tree-head-unsigned')).size;
          (watches[i] as SizeWatch).record(size, performance.now());
          await sleep(10);
        }
      }),
      (async () => {
        while (watching) {
          publishedWatch.record(parseCosignedTreeHead(await getText(headPool, '/get-tree-head')).size, performance.now());
          await sleep(10);
        }
      })(),
    ];

    // Paced load: `rate` new leaves per second in 10 ms slices. One leaf in
    // 200 is followed up (add-leaf every 100 ms until 200, as a submitter
    // would poll) for publication latency; more follow-ups would themselves
    // load the primary.
    const publication: number[] = [];
    const followUps: Promise<void>[] = [];
    let failures = 0;
    let lastAnswer = 0;
    const addLeaf = async (body: string): Promise<number> => {
      const res = await publicPool.request({ path: '/add-leaf', method: 'POST', body });
      await res.body.dump();
      return res.statusCode;
    };
    const start = performance.now();
    const inFlight: Promise<unknown>[] = [];
    for (let sent = 0; sent < total; ) {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
      for (; sent < due; sent++) {
        const body = bodies[sent] as string;
        const sampled = sent % 200 === 0;
        const t0 = performance.now();
        const p = addLeaf(body).then((status) => {
          lastAnswer = performance.now();
          if (status !== 200 && status !== 202) failures++;
          if (!sampled || (status !== 200 && status !== 202)) return;
          followUps.push(
            (async () => {
              for (let s = status; s !== 200; s = await addLeaf(body)) {
                if (performance.now() - t0 > 60_000) return;
                await sleep(100);
              }
              publication.push(performance.now() - t0);
            })(),
          );
        });
        inFlight.push(p);
      }
      await sleep(10);
    }
    const sendSeconds = (performance.now() - start) / 1000;
    await Promise.all(inFlight);
    await Promise.all(followUps);
    // Let every node reach the final size before stopping the watchers.
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline && watches.some((w) => (w.seen[w.seen.length - 1]?.size ?? 0) < total)) await sleep(50);
    watching = false;
    await Promise.all(watchers);

    const [primaryWatch, ...secondaryWatches] = watches as [SizeWatch, ...SizeWatch[]];
    const lags: number[] = [];
    for (const { size, at } of primaryWatch.seen) {
      if (size === 0) continue;
      const everywhere = secondaryWatches.map((w) => w.firstAtLeast(size));
      if (everywhere.some((x) => x === undefined)) continue;
      lags.push(Math.max(...(everywhere as number[])) - at);
    }
    lags.sort((a, b) => a - b);
    publication.sort((a, b) => a - b);
    const publishLags: number[] = [];
    for (const { size, at } of publishedWatch.seen) {
      const sequenced = primaryWatch.firstAtLeast(size);
      if (size > 0 && sequenced !== undefined) publishLags.push(at - sequenced);
    }
    publishLags.sort((a, b) => a - b);
    if (process.env.BENCH_DEBUG) {
      console.log('sequenced', JSON.stringify(primaryWatch.seen.filter((_x, i) => i % 20 === 0).map((x) => [x.size, Math.round(x.at - start)])));
      console.log('published', JSON.stringify(publishedWatch.seen.map((x) => [x.size, Math.round(x.at - start)])));
    }
    return {
      'steady add-leaf rate offered leaves/s': rate,
      'steady add-leaf rate sent leaves/s': total / sendSeconds,
      'steady add-leaf rate answered leaves/s (first answers)': (total * 1000) / (lastAnswer - start),
      'steady add-leaf non-2xx answers': failures,
      'steady secondaries': secondaryWatches.length,
      'steady secondary poll interval ms': secondaryIntervalMs,
      'replication lag p50 ms': percentile(lags, 50),
      'replication lag p99 ms (target < 2 × poll interval)': percentile(lags, 99),
      'replication lag max ms': lags[lags.length - 1] ?? NaN,
      'publication latency p50 ms (interval 1s)': percentile(publication, 50),
      'publication latency p99 ms (interval 1s)': percentile(publication, 99),
      'publication latency samples': publication.length,
      'sequenced-to-published p50 ms': percentile(publishLags, 50),
      'sequenced-to-published p99 ms': percentile(publishLags, 99),
      'published size at end': publishedWatch.seen[publishedWatch.seen.length - 1]?.size ?? 0,
    };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(procs.map((p) => p.stop()));
    dir.remove();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchReplication({
    leaves: Number(process.env.LEAVES ?? 1_000_000),
    maxRange: Number(process.env.MAX_RANGE ?? 512),
    secondaryIntervalMs: Number(process.env.SECONDARY_INTERVAL_MS ?? 1_000),
  });
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(60)} ${Number.isInteger(v) ? v : v.toFixed(Math.abs(v) < 10 ? 3 : 1)}`);
}
