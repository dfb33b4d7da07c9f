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
//   node dist/bench/tree.js --leaves N [--batch B] [--dir D] [--keep FILE] [--lockstep L] [--json]
//                                                --lockstep: append L leaves per turn, a turn
//                                                starting at each line on stdin (AppendTurns)
//   node dist/bench/tree.js --interleave A.db,B.db [--rounds R] [--seconds S] [--json]
//                                                proofs and lookups on two stored trees in
//                                                alternation (interleavedAccessRates)
import { spawnSync } from 'node:child_process';
import { createHash, hash as oneShotHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
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
  /** Append in turns with other bench processes (see AppendTurns); default: straight through. */
  readonly turns?: AppendTurns;
}

/**
 * Builds of two sizes taken in turns, so that both see the same phases of a
 * shared machine (whose speed moves by a third between phases, more than the
 * ratio being measured): wait() blocks until it is this process's turn,
 * done() hands the turn back. Each turn appends leavesPerTurn leaves (a
 * multiple of the batch); after the last one, one more wait() precedes the
 * rest of the bench (proofs, reopen), which then runs alone.
 */
export interface AppendTurns {
  readonly leavesPerTurn: number;
  wait(): void;
  done(): void;
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

/** The random-access workloads, in the order they are measured. */
export const ACCESS_KINDS = ['inclusionProofs', 'consistencyProofs', 'consistencyProofsRandomPairs', 'lookupsByHash'] as const;
export type AccessKind = (typeof ACCESS_KINDS)[number];
export type AccessRates = Record<AccessKind, { wall: number; cpu: number }>;

/**
 * Rates on a stored tree, each kind timed for secondsPerKind (in blocks of 1,000
 * operations), per wall second and per CPU second of this process (the
 * machine may be shared: CPU time is the cost, wall time also counts waiting
 * for a core): inclusion proofs of random leaves in the whole tree,
 * consistency proofs from a random size to the whole tree and between two
 * random sizes, and lookups of random stored leaves by leaf hash (the
 * hashes are read before the clock starts).
 */
export function randomAccessRates(store: TreeStore, secondsPerKind: number, afterBlock: () => void = () => undefined): AccessRates {
  const size = store.size();
  const rate = (make: (i: number) => void): { wall: number; cpu: number } => {
    let count = 0;
    let spent = 0;
    const cpu = process.cpuUsage();
    while (spent < secondsPerKind) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < 1000; i++) make(count + i);
      spent += seconds(t);
      count += 1000;
      afterBlock();
    }
    const used = process.cpuUsage(cpu);
    return { wall: count / spent, cpu: count / ((used.user + used.system) / 1e6) };
  };
  const wanted = Array.from({ length: 20_000 }, () => randomInt(size));
  const hashes = wanted.map((i) => store.leafHashAt(i));
  return {
    inclusionProofs: rate(() => store.inclusionProof(randomInt(size), size)),
    consistencyProofs: rate(() => store.consistencyProof(1 + randomInt(size - 1), size)),
    consistencyProofsRandomPairs: rate(() => {
      const newSize = 2 + randomInt(size - 1);
      store.consistencyProof(1 + randomInt(newSize - 1), newSize);
    }),
    lookupsByHash: rate((i) => {
      const k = i % wanted.length;
      if (store.indexOfLeafHash(hashes[k] as Hash) !== wanted[k]) throw new Error('lookup by hash failed');
    }),
  };
}

/** AccessRates as the bench's figures: <kind>PerSecond and <kind>PerCpuSecond. */
function accessFigures(rates: AccessRates): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of ACCESS_KINDS) {
    out[`${kind}PerSecond`] = Math.round(rates[kind].wall);
    out[`${kind}PerCpuSecond`] = Math.round(rates[kind].cpu);
  }
  return out;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The random-access rates of two stored trees measured in alternation, so
 * that both see the same phases of a shared machine: both files opened as a
 * node opens them, a warm-up of each, then `rounds` rounds each measuring
 * every kind for secondsPerKind on the first file and then on the second.
 * Reports each file's median rates and the median over rounds of the
 * second file's rate divided by the first's.
 */
export function interleavedAccessRates(files: readonly [string, string], rounds: number, secondsPerKind: number): Record<string, number> {
  // Written back first: the kernel's writeback of a tree just built would
  // slow whichever side it overlaps.
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const stores = files.map((f) => TreeStore.open(f, { soleWriter: true }));
  try {
    for (const store of stores) randomAccessRates(store, secondsPerKind / 2);
    const perRound: AccessRates[][] = [[], []];
    for (let r = 0; r < rounds; r++) stores.forEach((store, i) => perRound[i]?.push(randomAccessRates(store, secondsPerKind)));
    const out: Record<string, number> = { rounds, secondsPerKind };
    stores.forEach((store, i) => {
      out[`leaves${i}`] = store.size();
    });
    for (const kind of ACCESS_KINDS) {
      for (const measure of ['wall', 'cpu'] as const) {
        const suffix = measure === 'wall' ? 'PerSecond' : 'PerCpuSecond';
        const [first, second] = perRound.map((rs) => rs.map((r) => r[kind][measure])) as [number[], number[]];
        out[`${kind}${suffix}0`] = Math.round(median(first));
        out[`${kind}${suffix}1`] = Math.round(median(second));
        out[`${kind}${suffix}Ratio`] = median(second.map((v, r) => v / (first[r] as number)));
      }
    }
    return out;
  } finally {
    for (const store of stores) store.close();
  }
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
    const turns = opts.turns;
    if (turns !== undefined && (!Number.isSafeInteger(turns.leavesPerTurn) || turns.leavesPerTurn < batch || turns.leavesPerTurn % batch !== 0)) {
      throw new RangeError('benchTree: leavesPerTurn must be a multiple of the batch');
    }
    for (let done = 0; done < total; ) {
      if (turns !== undefined && done % turns.leavesPerTurn === 0) turns.wait();
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
      if (turns !== undefined && (done % turns.leavesPerTurn === 0 || done === total)) turns.done();
    }
    turns?.wait();
    const appendWritten = writtenBytes() - writtenBefore;
    const backgroundCheckpoints = store.backgroundCheckpoints();
    const size = store.size();
    if (size !== total) throw new Error(`expected ${total} leaves, store has ${size}`);
    const root = store.rootAt(size);

    // Proofs and lookups with random arguments, timed for PROOF_SECONDS each,
    // then a sample of each kind verified outside the timed region.
    const access = randomAccessRates(store, PROOF_SECONDS, sampleRss);
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
      ...accessFigures(access),
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

/**
 * AppendTurns driven by a parent (bench/run.ts): a line on stdin starts a
 * turn, "ok" on stdout ends it; the result stays the last stdout line.
 */
function turnsOverStdio(leavesPerTurn: number): AppendTurns {
  const byte = Buffer.alloc(1);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  return {
    leavesPerTurn,
    wait(): void {
      for (;;) {
        let n: number;
        try {
          n = readSync(0, byte, 0, 1, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          Atomics.wait(pause, 0, 0, 1); // a non-blocking pipe: poll
          continue;
        }
        if (n === 0) throw new Error('bench tree --lockstep: stdin closed before the turn');
        if (byte[0] === 0x0a) return;
      }
    },
    done(): void {
      writeSync(1, 'ok\n');
    },
  };
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
    const interleave = argValue(args, '--interleave');
    if (interleave !== undefined) {
      const files = interleave.split(',');
      const rounds = Number(argValue(args, '--rounds') ?? 6);
      const secondsPerKind = Number(argValue(args, '--seconds') ?? 0.5);
      if (files.length !== 2 || !Number.isSafeInteger(rounds) || rounds < 1 || !(secondsPerKind > 0)) {
        throw new RangeError('--interleave needs two files A,B; --rounds an integer ≥ 1; --seconds > 0');
      }
      const result = interleavedAccessRates(files as [string, string], rounds, secondsPerKind);
      if (args.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
      else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(40)} ${Number(v.toFixed(3))}`);
      return;
    }
    if (leaves !== undefined) {
      const keep = argValue(args, '--keep');
      const lockstep = argValue(args, '--lockstep');
      const turns = lockstep === undefined ? {} : { turns: turnsOverStdio(Number(lockstep)) };
      const result = await benchTree({ leaves: Number(leaves), batch, dir, ...(keep === undefined ? {} : { keep }), ...turns });
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
