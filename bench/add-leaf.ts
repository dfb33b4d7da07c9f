// add-leaf throughput over HTTP: 64 concurrent keep-alive clients sending unique leaves
// to a real primary process (optionally with 1,000,000 leaves already in its
// tree), accepted leaves/s, latency percentiles, the server's CPU per request
// (all threads, and its main thread against a bare node:http floor), and the
// server's peak RSS.
import { randomBytes } from 'node:crypto';
import { copyFileSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { postAll } from './http-load.js';
import { benchHttpFloor } from './http-floor.js';
import { cpuSeconds, peakRssMiB, percentile } from './proc.js';
import { generateSeed, signerFromSeed } from '../src/crypto/index.js';
import { signLeaf } from '../src/formats/leaf.js';
import { formatAddLeafRequest } from '../src/formats/messages.js';
import { TreeStore } from '../src/tree/store.js';
import { asHash } from '../src/types.js';
import { preparePrimary, startNodeProcess, tempDir } from '../test/helpers/log-fixture.js';

export interface AddLeafBenchOptions {
  /** Leaves to put in the tree before the server starts. */
  prefill: number;
  /**
   * A tree database to start from instead (moved into place, then deleted
   * with the run's directory), e.g. the 10M-leaf file the tree bench kept.
   */
  treeFile?: string;
  /** Leaves to submit over HTTP. */
  submissions: number;
  concurrency: number;
}

function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    copyFileSync(from, to);
    rmSync(from);
  }
}

export async function benchAddLeaf(opts: AddLeafBenchOptions): Promise<Record<string, number>> {
  const dir = tempDir('sigsum-bench-');
  try {
    const setup = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-pending': 200_000 } });
    let treeSize = opts.prefill;
    if (opts.treeFile !== undefined) {
      moveFile(opts.treeFile, setup.dbFile);
      const store = TreeStore.open(setup.dbFile);
      treeSize = store.size();
      store.close();
    } else if (opts.prefill > 0) {
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

    // The same requests against a bare node:http server first: the floor
    // that add-leaf's main-thread CPU is read against.
    const floor = await benchHttpFloor(bodies, opts.concurrency);
    const floorCpu = floor['node:http floor server CPU µs per request'] as number;

    // From spawn to the public API's "listening" line: what a restart costs.
    const spawned = performance.now();
    const server = await startNodeProcess('primary', setup);
    const startMs = performance.now() - spawned;
    try {
      const pid = server.proc.pid as number;
      const cpuBefore = cpuSeconds(pid);
      // The main thread (tid = pid) parses HTTP and sequences; it is the one
      // serial resource, so its share is reported on its own.
      const mainBefore = cpuSeconds(pid, pid);
      const clientBefore = process.cpuUsage();
      const { statuses, latenciesMs, seconds } = await postAll('127.0.0.1', setup.publicPort, '/add-leaf', bodies, opts.concurrency);
      const serverCpu = cpuSeconds(pid) - cpuBefore;
      const mainCpu = cpuSeconds(pid, pid) - mainBefore;
      const clientUsage = process.cpuUsage(clientBefore);
      const clientCpu = (clientUsage.user + clientUsage.system) / 1e6;
      const accepted = statuses.filter((st) => st === 202 || st === 200).length;
      const other = statuses.length - accepted;
      const latencies = [...latenciesMs].sort((a, b) => a - b);
      return {
        'add-leaf accepted leaves/s': accepted / seconds,
        'add-leaf non-2xx answers': other,
        'add-leaf latency p50 ms': percentile(latencies, 50),
        'add-leaf latency p99 ms': percentile(latencies, 99),
        'add-leaf server CPU µs per request (all threads)': (serverCpu * 1e6) / statuses.length,
        'add-leaf server main-thread CPU µs per request': (mainCpu * 1e6) / statuses.length,
        ...floor,
        'add-leaf main-thread CPU / node:http floor CPU': (mainCpu * 1e6) / statuses.length / floorCpu,
        'add-leaf load generator CPU µs per request': (clientCpu * 1e6) / statuses.length,
        'add-leaf tree size before run': treeSize,
        'primary start ms (spawn to serving)': startMs,
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
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(52)} ${v.toFixed(2)}`);
}
