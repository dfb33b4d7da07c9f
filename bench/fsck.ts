// Benchmark of fsck's tree check (TreeStore.checkTree, read-only, one read
// transaction): leaves checked per second at 1,000,000 leaves, and the
// hashes that needs (one leaf hash per leaf plus every interior node of the
// complete subtrees) per second as a fraction of the SHA-256 limit measured
// in the same process (target ≥ 0.3); the same ratio with both sides per CPU
// second of the process, which load from other programs on a shared machine
// does not skew. Also the repair (rebuildDerived) rate.
//
//   node dist/bench/fsck.js [--leaves N] [--json]
import { hash as oneShotHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashesForTree } from '../src/tree/integrity.js';
import { TreeStore } from '../src/tree/store.js';
import { makeLeaves, sha256Rates } from './tree.js';

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * SHA-256 of 64-byte inputs per CPU second of this process, the way the tree
 * hashes (one-shot, latin1 result): a limit that other load on this shared
 * machine does not move, to set against fsck's leaves per CPU second.
 */
function sha256PerCpuSecond(): number {
  const input = randomBytes(64);
  const n = 300_000;
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) oneShotHash('sha256', input, 'binary');
  const used = process.cpuUsage(cpu);
  return n / ((used.user + used.system) / 1e6);
}

export async function benchFsck(leaves: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'sigsum-bench-fsck-'));
  const path = join(dir, 'tree.db');
  try {
    const writer = TreeStore.open(path);
    for (let done = 0; done < leaves; ) {
      const n = Math.min(10_000, leaves - done);
      writer.appendLeaves(makeLeaves(done, n, done + 1));
      done += n;
    }
    writer.close();

    const sha = sha256Rates();
    const shaLimit = Math.max(sha.createHash, sha.oneShot, sha.oneShotText);
    const shaPerCpu = sha256PerCpuSecond();
    const hashes = hashesForTree(leaves);

    const reader = TreeStore.open(path, { readOnly: true });
    const cpu = process.cpuUsage();
    const t = process.hrtime.bigint();
    const report = reader.checkTree();
    const checkSeconds = seconds(t);
    const used = process.cpuUsage(cpu);
    reader.close();
    if (report.problems.length > 0 || report.size !== leaves) throw new Error(`fsck found problems in a fresh tree: ${report.problems[0]?.message}`);

    const repairer = TreeStore.open(path);
    const r = process.hrtime.bigint();
    repairer.rebuildDerived();
    const repairSeconds = seconds(r);
    if (repairer.checkTree().problems.length > 0) throw new Error('the rebuilt tree does not check');
    repairer.close();

    const rate = leaves / checkSeconds;
    const cpuRate = leaves / ((used.user + used.system) / 1e6);
    return {
      leaves,
      'sha256/s (64-byte inputs, this run)': Math.round(shaLimit),
      'hashes needed per leaf': hashes / leaves,
      'fsck leaves/s': Math.round(rate),
      'sha256 per CPU second (64-byte inputs, this run)': Math.round(shaPerCpu),
      'fsck leaves per CPU second': Math.round(cpuRate),
      'fsck ratio to the SHA-256 limit for its hashes (target ≥ 0.3)': (rate * (hashes / leaves)) / shaLimit,
      'fsck ratio to the SHA-256 limit, both per CPU second': (cpuRate * (hashes / leaves)) / shaPerCpu,
      'fsck --repair rebuild leaves/s': Math.round(leaves / repairSeconds),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--leaves');
  const leaves = at > 0 ? Number(process.argv[at + 1]) : 1_000_000;
  const figures = await benchFsck(leaves);
  if (process.argv.includes('--json')) console.log(JSON.stringify(figures));
  else for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(64)} ${v}`);
}
