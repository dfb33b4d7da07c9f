// add-leaf throughput over HTTP: 64 concurrent keep-alive clients sending unique leaves
// to a real primary process (optionally with 1,000,000 leaves already in its
// tree), accepted leaves/s, latency percentiles, and the server's peak RSS.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { postAll } from './http-load.js';
import { generateSeed, signerFromSeed } from '../src/crypto/index.js';
import { signLeaf } from '../src/formats/leaf.js';
import { formatAddLeafRequest } from '../src/formats/messages.js';
import { TreeStore } from '../src/tree/store.js';
import { asHash } from '../src/types.js';
import { preparePrimary, startNodeProcess, tempDir } from '../test/helpers/log-fixture.js';

export interface AddLeafBenchOptions {
  /** Leaves to put in the tree before the server starts. */
  prefill: number;
  /** Leaves to submit over HTTP. */
  submissions: number;
  concurrency: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** CPU seconds (user + system, all threads) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export async function benchAddLeaf(opts: AddLeafBenchOptions): Promise<Record<string, number>> {
  const dir = tempDir('sigsum-bench-');
  try {
    const setup = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-pending': 200_000 } });
    if (opts.prefill > 0) {
      const store = TreeStore.open(setup.dbFile);
      const batch = 10_000;
      for (let done = 0; done < opts.prefill; done += batch) {
        const n = Math.min(batch, opts.prefill - done);
        const leaves: Uint8Array[] = [];
        const bytes = randomBytes(128 * n);
        for (let i = 0; i < n; i++) leaves.push(new Uint8Array(bytes.subarray(i * 128, (i + 1) * 128)));
        store.appendLeaves(leaves);
      }
      store.close();
    }
    // Sign everything up front so the client's cost during the run is HTTP only.
    const signers = Array.from({ length: 8 }, () => signerFromSeed(generateSeed()));
    const bodies = Array.from({ length: opts.submissions }, (_v, i) => {
      const signer = signers[i % signers.length]!;
      const message = asHash(new Uint8Array(randomBytes(32)));
      const leaf = signLeaf(signer, message);
      return formatAddLeafRequest({ message, signature: leaf.signature, publicKey: signer.publicKey });
    });

    const server = await startNodeProcess('primary', setup);
    try {
      const pid = server.proc.pid as number;
      const cpuBefore = cpuSeconds(pid);
      const { statuses, latenciesMs, seconds } = await postAll('127.0.0.1', setup.publicPort, '/add-leaf', bodies, opts.concurrency);
      const serverCpu = cpuSeconds(pid) - cpuBefore;
      const accepted = statuses.filter((st) => st === 202 || st === 200).length;
      const other = statuses.length - accepted;
      const latencies = [...latenciesMs].sort((a, b) => a - b);
      return {
        'add-leaf accepted leaves/s': accepted / seconds,
        'add-leaf non-2xx answers': other,
        'add-leaf latency p50 ms': percentile(latencies, 50),
        'add-leaf latency p99 ms': percentile(latencies, 99),
        'add-leaf server CPU µs per request (all threads)': (serverCpu * 1e6) / statuses.length,
        'add-leaf tree size before run': opts.prefill,
        'primary peak RSS MiB': peakRssMiB(server.proc.pid as number),
      };
    } finally {
      await server.stop();
    }
  } finally {
    dir.remove();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchAddLeaf({ prefill: Number(process.env.PREFILL ?? 0), submissions: 30_000, concurrency: 64 });
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(48)} ${v.toFixed(1)}`);
}
