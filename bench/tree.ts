// Benchmark of the tree store (RFC 6962 tree in SQLite). Reports:
// - sha256PerSecond64B: the machine limit, SHA-256 of 64-byte inputs through
//   node:crypto (best of createHash and the one-shot hash() with a Buffer or
//   a latin1 string result);
// - appendLeavesPerSecond: appendLeaves in batches, one durable commit each,
//   wall clock; appendLeavesPerCpuSecond divides by the CPU time the process
//   used meanwhile (all its threads, so GC and the WAL checkpointer too), which separates our cost
//   from other load on the machine and from fsync waits;
// - appendShaRatio: hashes the appends needed (≈ 2 per leaf) per second, as a
//   fraction of the SHA-256 limit;
// - proofs per second at the final size: inclusion (random index), consistency
//   from a random size to the final one, and between two random sizes;
// - bytes written per appended leaf (WAL and checkpoints, /proc/self/io);
// - peak RSS (sampled) and maxRSS; database bytes per leaf after close; the
//   time to reopen the file as a node does and answer the first proof.
//
//   node dist/bench/tree.js                      100k and 1M leaves, each in a fresh process
//   node dist/bench/tree.js --leaves N [--batch B] [--dir D] [--keep FILE] [--json]
import { spawnSync } from 'node:child_process';
import { createHash, hash as oneShotHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TreeStore } from '../src/tree/store.js';
import { verifyConsistency, verifyInclusion } from '../src/tree/verify.js';
import type { Hash } from '../src/types.js';

export interface BenchTreeOptions {
  /** Leaves to append (≥ 2). */
  readonly leaves: number;
  /** Leaves per appendLeaves call, i.e. per durable commit. */
  readonly batch: number;
  /** Directory for the database file; the file is removed afterwards. */
  readonly dir: string;
  /** Keep the database: move it to this path instead of removing it. */
  readonly keep?: string;
}

const PROOF_SECONDS = 2;
const LEAF_BYTES = 128;

/** Bytes this process has passed to write() so far (Linux /proc/self/io wchar; 0 where unavailable). */
function writtenBytes(): number {
  try {
    const m = /^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * SHA-256 of 64-byte inputs per second through node:crypto: createHash, and
 * the one-shot hash() returning a Buffer or a latin1 string (what the tree's
 * append path uses). The best of them is the machine limit.
 */
export function sha256Rates(): { createHash: number; oneShot: number; oneShotText: number } {
  const input = randomBytes(64);
  const n = 300_000;
  const rate = (hashOnce: () => unknown): number => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) hashOnce();
    return n / seconds(t);
  };
  const createHashRate = rate(() => createHash('sha256').update(input).digest());
  if (typeof oneShotHash !== 'function') return { createHash: createHashRate, oneShot: 0, oneShotText: 0 }; // Node < 20.12
  return {
    createHash: createHashRate,
    oneShot: rate(() => oneShotHash('sha256', input, 'buffer')),
    oneShotText: rate(() => oneShotHash('sha256', input, 'binary')),
  };
}

/** Unique, random-looking 128-byte leaves: a xorshift stream with the index stamped in. */
export function makeLeaves(first: number, count: number, seed: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    const leaf = Buffer.allocUnsafe(LEAF_BYTES);
    for (let j = 8; j < LEAF_BYTES; j += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      leaf.writeUInt32LE(x >>> 0, j);
    }
    leaf.writeDoubleBE(first + i, 0);
    out.push(leaf);
  }
  return out;
}

function popcount(n: number): number {
  let c = 0;
  for (; n > 0; n = Math.floor(n / 2)) c += n % 2;
  return c;
}

function randomInt(below: number): number {
  return Math.floor(Math.random() * below);
}

export async function benchTree(opts: BenchTreeOptions): Promise<Record<string, number>> {
  const { leaves: total, batch } = opts;
  if (!Number.isSafeInteger(total) || total < 2 || !Number.isSafeInteger(batch) || batch < 1) {
    throw new RangeError('benchTree needs leaves ≥ 2 and batch ≥ 1');
  }
  const sha = sha256Rates();
  const shaLimit = Math.max(sha.createHash, sha.oneShot, sha.oneShotText);
  const path = join(opts.dir, `bench-tree-${process.pid}-${Date.now()}.db`);
  let peakRss = process.memoryUsage().rss;
  const sampleRss = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };

  const loadBefore = loadavg()[0] as number;
  // As a node opens it: checkpoints on a worker thread (wal-checkpointer.ts).
  const store = TreeStore.open(path, { soleWriter: true, checkpointInBackground: true });
  let appendSeconds = 0;
  let appendCpuSeconds = 0;
  let slowestBatch = 0;
  let slowestBatchCpu = 0;
  const writtenBefore = writtenBytes();
  try {
    for (let done = 0; done < total; ) {
      const n = Math.min(batch, total - done);
      const leaves = makeLeaves(done, n, done + 1);
      const cpu = process.cpuUsage();
      const t = process.hrtime.bigint();
      store.appendLeaves(leaves);
      const s = seconds(t);
      const used = process.cpuUsage(cpu);
      appendCpuSeconds += (used.user + used.system) / 1e6;
      appendSeconds += s;
      slowestBatch = Math.max(slowestBatch, s);
      slowestBatchCpu = Math.max(slowestBatchCpu, (used.user + used.system) / 1e6);
      done += n;
      sampleRss();
    }
    const appendWritten = writtenBytes() - writtenBefore;
    const backgroundCheckpoints = store.backgroundCheckpoints();
    const size = store.size();
    if (size !== total) throw new Error(`expected ${total} leaves, store has ${size}`);
    const root = store.rootAt(size);

    // Proofs with random arguments, timed for PROOF_SECONDS each; a sample of
    // each kind is verified afterwards, outside the timed region.
    // Per wall second and per CPU second of this process (the machine may be
    // shared: CPU time is the cost, wall time also counts waiting for a core).
    const rate = (make: () => void): { wall: number; cpu: number } => {
      let count = 0;
      let spent = 0;
      const cpu = process.cpuUsage();
      while (spent < PROOF_SECONDS) {
        const t = process.hrtime.bigint();
        for (let i = 0; i < 1000; i++) make();
        spent += seconds(t);
        count += 1000;
        sampleRss();
      }
      const used = process.cpuUsage(cpu);
      return { wall: count / spent, cpu: count / ((used.user + used.system) / 1e6) };
    };
    const inclusionRate = rate(() => store.inclusionProof(randomInt(size), size));
    const consistencyRate = rate(() => store.consistencyProof(1 + randomInt(size - 1), size));
    const consistencyPairsRate = rate(() => {
      const newSize = 2 + randomInt(size - 1);
      store.consistencyProof(1 + randomInt(newSize - 1), newSize);
    });
    for (let k = 0; k < 20; k++) {
      const index = randomInt(size);
      if (!verifyInclusion(store.leafHashAt(index), index, size, store.inclusionProof(index, size), root)) {
        throw new Error(`inclusion proof for ${index} does not verify`);
      }
      const newSize = 2 + randomInt(size - 1);
      const oldSize = 1 + randomInt(newSize - 1);
      const path = store.consistencyProof(oldSize, newSize);
      if (!verifyConsistency(oldSize, newSize, store.rootAt(oldSize), store.rootAt(newSize), path)) {
        throw new Error(`consistency proof ${oldSize} → ${newSize} does not verify`);
      }
    }

    const lookups = 20_000;
    const wanted = Array.from({ length: lookups }, () => randomInt(size));
    const hashes = wanted.map((i) => store.leafHashAt(i));
    const lookupCpu = process.cpuUsage();
    const t = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++) {
      if (store.indexOfLeafHash(hashes[i] as Hash) !== wanted[i]) throw new Error('lookup by hash failed');
    }
    const lookupSeconds = seconds(t);
    const lookupUsed = process.cpuUsage(lookupCpu);

    const appendRate = total / appendSeconds;
    const hashesPerLeaf = (2 * total - popcount(total)) / total; // one leaf hash + the interior nodes
    store.close();
    const dbBytes = statSync(path).size;
    // What a node's start costs the tree: open as sole writer (the dedup memory
    // level is rebuilt from stored hashes), then the first root and proof.
    const openStart = process.hrtime.bigint();
    const reopened = TreeStore.open(path, { soleWriter: true });
    reopened.rootAt(reopened.size());
    reopened.inclusionProof(randomInt(size), size);
    const openMs = seconds(openStart) * 1000;
    reopened.close();
    if (opts.keep !== undefined) renameSync(path, opts.keep);
    return {
      leaves: total,
      batch,
      loadAverage1m: loadBefore,
      sha256PerSecond64B: Math.round(shaLimit),
      sha256PerSecond64BCreateHash: Math.round(sha.createHash),
      sha256PerSecond64BOneShot: Math.round(sha.oneShot),
      sha256PerSecond64BOneShotText: Math.round(sha.oneShotText),
      appendLeavesPerSecond: Math.round(appendRate),
      appendLeavesPerCpuSecond: Math.round(total / appendCpuSeconds),
      appendCommitsPerSecond: Math.round(appendRate / batch),
      appendSlowestBatchMs: Math.round(slowestBatch * 1000),
      appendSlowestBatchCpuMs: Math.round(slowestBatchCpu * 1000),
      appendHashesPerLeaf: hashesPerLeaf,
      appendBackgroundCheckpoints: backgroundCheckpoints,
      // WAL and checkpoint writes together: the write amplification, free of timing noise.
      appendWriteBytesPerLeaf: appendWritten / total,
      appendShaRatio: (appendRate * hashesPerLeaf) / shaLimit,
      inclusionProofsPerSecond: Math.round(inclusionRate.wall),
      inclusionProofsPerCpuSecond: Math.round(inclusionRate.cpu),
      consistencyProofsPerSecond: Math.round(consistencyRate.wall),
      consistencyProofsPerCpuSecond: Math.round(consistencyRate.cpu),
      consistencyProofsRandomPairsPerSecond: Math.round(consistencyPairsRate.wall),
      consistencyProofsRandomPairsPerCpuSecond: Math.round(consistencyPairsRate.cpu),
      lookupsByHashPerSecond: Math.round(lookups / lookupSeconds),
      lookupsByHashPerCpuSecond: Math.round(lookups / ((lookupUsed.user + lookupUsed.system) / 1e6)),
      peakRssMiB: Math.round(peakRss / 2 ** 20),
      maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      dbBytesPerLeaf: dbBytes / total,
      openToFirstProofMs: openMs,
    };
  } finally {
    if (store.db.open) store.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(args: string[]): Promise<void> {
  const batch = Number(argValue(args, '--batch') ?? 1000);
  const leaves = argValue(args, '--leaves');
  const ownDir = argValue(args, '--dir') === undefined;
  const dir = argValue(args, '--dir') ?? mkdtempSync(join(tmpdir(), 'bench-tree-'));
  try {
    if (leaves !== undefined) {
      const keep = argValue(args, '--keep');
      const result = await benchTree({ leaves: Number(leaves), batch, dir, ...(keep === undefined ? {} : { keep }) });
      if (args.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
      else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(30)} ${Number(v.toFixed(3))}`);
      return;
    }
    // Each size in a fresh process, so peak RSS is that size's alone.
    const results: Array<Record<string, number>> = [];
    for (const n of [100_000, 1_000_000]) {
      const child = spawnSync(
        process.execPath,
        [fileURLToPath(import.meta.url), '--leaves', String(n), '--batch', String(batch), '--dir', dir, '--json'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      if (child.status !== 0) throw new Error(`bench child for ${n} leaves failed (${child.status})`);
      results.push(JSON.parse(child.stdout) as Record<string, number>);
    }
    const keys = Object.keys(results[0] as Record<string, number>);
    console.log(`${'metric'.padEnd(30)} ${results.map((r) => String(r.leaves).padStart(12)).join(' ')}`);
    for (const k of keys) {
      console.log(`${k.padEnd(30)} ${results.map((r) => String(Number((r[k] as number).toFixed(3))).padStart(12)).join(' ')}`);
    }
  } finally {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
