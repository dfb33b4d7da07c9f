// Lifecycle figures at `leaves` leaves, with real processes over loopback:
//  1. backup: `sigsum-log backup` of a running primary, leaves/s (and MiB/s);
//     add-leaf throughput while backups run back to back, as a ratio to
//     add-leaf without one, both for the CLI (another process) and for the
//     node's own periodic backup (a worker thread in the node), each over a
//     whole backup and alternating with windows without;
//     `node dist/bench/lifecycle.js backup` runs only this part
//     (BACKUP_MAX_RATE=0,16 for one run per rate, ROUNDS=n).
//  2. import: `sigsum-log import` of a primary's public API serving
//     max-range 512, leaves/s, as a ratio of the local append rate measured
//     in the same run (building the source tree). Target ≥ 0.3.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSeed, signerFromSeed } from '../src/crypto/index.js';
import { signLeaf } from '../src/formats/leaf.js';
import { formatAddLeafRequest, parseCosignedTreeHead } from '../src/formats/messages.js';
import { TreeStore } from '../src/tree/store.js';
import { asHash } from '../src/types.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir, writeToml, type PrimarySetup } from '../test/helpers/log-fixture.js';
import { http, runCli, spawnCli, type NodeProcess } from '../test/helpers/node-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Builds a tree of `count` random leaves in durable batches of 1,000; returns the append rate (leaves/s). */
function buildTree(dbFile: string, count: number): number {
  const store = TreeStore.open(dbFile);
  let ms = 0;
  try {
    for (let done = 0; done < count; done += 1_000) {
      const n = Math.min(1_000, count - done);
      const bytes = randomBytes(128 * n);
      const leaves = Array.from({ length: n }, (_v, i) => new Uint8Array(bytes.subarray(128 * i, 128 * (i + 1))));
      const t0 = performance.now();
      store.appendLeaves(leaves);
      ms += performance.now() - t0;
    }
  } finally {
    store.close();
  }
  return (count * 1000) / ms;
}

function addLeafBodies(n: number): string[] {
  const signers = Array.from({ length: 8 }, () => signerFromSeed(generateSeed()));
  return Array.from({ length: n }, (_v, i) => {
    const signer = signers[i % signers.length]!;
    const message = asHash(new Uint8Array(randomBytes(32)));
    return formatAddLeafRequest({ message, signature: signLeaf(signer, message).signature, publicKey: signer.publicKey });
  });
}

async function publishedSize(publicUrl: string): Promise<number> {
  const res = await http(`${publicUrl}/get-tree-head`);
  return res.status === 200 ? parseCosignedTreeHead(res.body).size : -1;
}

/**
 * Posts add-leaf requests from `bodies` with 64 connections until `stop`
 * resolves; the rate is of the answers (200/202) in that time. Throws if the
 * bodies run out first (a rate measured over fewer seconds than asked).
 */
async function addLeafRateUntil(setup: PrimarySetup, bodies: string[], stop: Promise<unknown>): Promise<number> {
  const host = '127.0.0.1';
  const raws = bodies.map((b) => `POST /add-leaf HTTP/1.1\r\nHost: ${host}:${setup.publicPort}\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
  let stopped = false;
  void stop.then(() => (stopped = true));
  let next = 0;
  let answered = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      const socket = connect({ host, port: setup.publicPort, noDelay: true });
      await once(socket, 'connect');
      let buffer: Buffer = Buffer.alloc(0);
      try {
        while (!stopped) {
          if (next >= raws.length) throw new Error(`add-leaf load: all ${raws.length} bodies used before the window ended; give more`);
          const raw = raws[next++] as string;
          const status = await new Promise<number>((resolve, reject) => {
            const onData = (chunk: Buffer): void => {
              buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
              const end = buffer.indexOf('\r\n\r\n');
              if (end < 0) return;
              const head = buffer.toString('latin1', 0, end);
              const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
              if (buffer.length < end + 4 + length) return;
              buffer = buffer.subarray(end + 4 + length);
              socket.off('data', onData);
              socket.off('error', reject);
              resolve(Number(head.slice(9, 12)));
            };
            socket.on('data', onData);
            socket.once('error', reject);
            socket.write(raw);
          });
          if (status === 200 || status === 202) answered++;
        }
      } finally {
        socket.destroy();
      }
    }),
  );
  const rate = answered / ((performance.now() - start) / 1000);
  fastestSeen = Math.max(fastestSeen, rate);
  return rate;
}

/** The highest add-leaf rate measured so far in this run (bodiesFor sizes its pools by it). */
let fastestSeen = 6_000;

/** Bodies enough for `seconds` of add-leaf at 1.3 × the fastest rate seen (at least 6,000/s). */
function bodiesFor(seconds: number): string[] {
  return addLeafBodies(Math.ceil(seconds * 1.3 * fastestSeen) + 10_000);
}

/**
 * Backup figures. add-leaf runs for the whole of one backup (from its start
 * until 2 s after it ended, so that the node's checkpoint of the WAL that
 * grew behind the backup's snapshot is counted too), alternating with a
 * window of the same length without a backup, `rounds` times, so that the
 * other load of a shared machine weighs on both alike. Each ratio is the mean
 * rate during backups over the mean rate without. `maxRateMib` is given to
 * `backup --max-rate` and `[backup] max-rate` (undefined: the default; a
 * build without the option must leave it undefined).
 */
export async function benchBackup(count: number, opts: { rounds?: number; maxRateMib?: number } = {}): Promise<Record<string, number>> {
  const rounds = opts.rounds ?? 3;
  const rateArgs = opts.maxRateMib === undefined ? [] : ['--max-rate', String(opts.maxRateMib)];
  const rateKey = opts.maxRateMib === undefined ? '' : `max-rate = ${opts.maxRateMib}\n`;
  const AFTER_MS = 2_000;
  const dir = tempDir('sigsum-bench-backup-');
  let proc: NodeProcess | undefined;
  try {
    const setup = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-pending': 1_000_000 } });
    buildTree(setup.dbFile, count);
    writeFileSync(`${setup.sthFile}.startup`, 'startup=local-tree\n');
    const plainConfig = readFileSync(setup.config, 'utf8');
    // One periodic backup, at start (the next is an hour away).
    const withBackups = `${plainConfig}\n[backup]\ndir = ${JSON.stringify(join(dir.path, 'periodic'))}\ninterval = "1h"\nkeep = 1\n${rateKey}`;
    proc = await startNodeProcess('primary', setup);

    // Backup alone, of the idle running primary.
    const t0 = performance.now();
    const alone = await runCli(['backup', '--config', setup.config, '--out', join(dir.path, 'alone'), ...rateArgs], 600_000);
    const aloneSeconds = (performance.now() - t0) / 1000;
    if (alone.code !== 0) throw new Error(`backup failed: ${alone.output}`);
    const copySize = Number(/tree size (\d+)/.exec(alone.output)?.[1]);
    const copyBytes = statSync(join(dir.path, 'alone', 'log.db')).size;
    const windowSeconds = aloneSeconds * 3 + AFTER_MS / 1000; // a backup under load takes longer than alone (seen: 1.7×)

    const baseline: number[] = [];
    const duringCli: number[] = [];
    const duringPeriodic: number[] = [];
    const cliSeconds: number[] = [];
    const periodicSeconds: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Without a backup, as long as the last backup window (or twice the idle backup's time).
      const baseBodies = bodiesFor(windowSeconds);
      const baseSeconds = Math.max(cliSeconds.at(-1) ?? 0, periodicSeconds.at(-1) ?? 0, aloneSeconds + AFTER_MS / 1000);
      baseline.push(await addLeafRateUntil(setup, baseBodies, sleep(baseSeconds * 1000)));

      // One CLI backup in another process, from its start to AFTER_MS after its end.
      const cliBodies = bodiesFor(windowSeconds);
      const c0 = performance.now();
      const backup = runCli(['backup', '--config', setup.config, '--out', join(dir.path, `during-${round}`), ...rateArgs], 600_000);
      const cliEnd = backup.then(async (r) => {
        if (r.code !== 0) throw new Error(`backup failed: ${r.output}`);
        cliSeconds.push((performance.now() - c0) / 1000);
        await sleep(AFTER_MS);
      });
      duringCli.push(await addLeafRateUntil(setup, cliBodies, cliEnd));
      await cliEnd;

      // The node's own periodic backup, taken at its start: from the node's
      // start-up line to AFTER_MS after the backup's log line.
      await proc.stop();
      writeFileSync(setup.config, withBackups);
      const periodicBodies = bodiesFor(windowSeconds);
      proc = await startNodeProcess('primary', setup);
      const p0 = performance.now();
      const node = proc;
      const periodicEnd = node.waitForOutput(/backup: \S+ \(tree size \d+, \d+ ms\)/, 600_000).then(async () => {
        periodicSeconds.push((performance.now() - p0) / 1000);
        await sleep(AFTER_MS);
      });
      duringPeriodic.push(await addLeafRateUntil(setup, periodicBodies, periodicEnd));
      await periodicEnd;
      await proc.stop();
      writeFileSync(setup.config, plainConfig);
      proc = await startNodeProcess('primary', setup);
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratios = (xs: number[]): number[] => xs.map((x, i) => x / (baseline[i] as number));
    return {
      'backup leaves/s (sigsum-log backup, idle running primary)': copySize / aloneSeconds,
      'backup MiB/s of database (idle running primary)': copyBytes / 1024 / 1024 / aloneSeconds,
      'backup seconds (idle running primary)': aloneSeconds,
      'CLI backup seconds under add-leaf (mean)': mean(cliSeconds),
      'periodic backup seconds under add-leaf (mean)': mean(periodicSeconds),
      'add-leaf leaves/s without a backup (mean of the rounds)': mean(baseline),
      'add-leaf leaves/s during a CLI backup': mean(duringCli),
      'ratio during CLI backups / without': mean(duringCli) / mean(baseline),
      'ratio during CLI backups, lowest round': Math.min(...ratios(duringCli)),
      'ratio during CLI backups, highest round': Math.max(...ratios(duringCli)),
      'add-leaf leaves/s during the node\'s periodic backup': mean(duringPeriodic),
      'ratio during periodic backups / without': mean(duringPeriodic) / mean(baseline),
      'ratio during periodic backups, lowest round': Math.min(...ratios(duringPeriodic)),
      'ratio during periodic backups, highest round': Math.max(...ratios(duringPeriodic)),
      rounds,
    };
  } finally {
    await proc?.stop();
    dir.remove();
  }
}

export async function benchImport(count: number, maxRange = 512): Promise<Record<string, number>> {
  const dir = tempDir('sigsum-bench-import-');
  let proc: NodeProcess | undefined;
  try {
    const setup = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-range': maxRange } });
    const appendRate = buildTree(setup.dbFile, count);
    writeFileSync(`${setup.sthFile}.startup`, 'startup=local-tree\n');
    proc = await startNodeProcess('primary', setup);
    for (let i = 0; (await publishedSize(setup.publicUrl)) < count; i++) {
      if (i > 600) throw new Error('the source never published its tree');
      await sleep(100);
    }
    const config = join(dir.path, 'import.toml');
    const key = join(dir.path, 'import.key');
    makeKey(key);
    writeToml(config, { 'key-file': key, 'db-file': join(dir.path, 'import.db'), timeout: '30s' }, { secondary: { 'log-pubkey-file': `${setup.keyFile}.pub` } });
    const t0 = performance.now();
    const importer = spawnCli(['import', '--config', config, '--from', setup.publicUrl], { name: 'import' });
    const code = await importer.exited;
    const seconds = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`import failed: ${importer.output}`);
    const rate = count / seconds;
    return {
      'local append leaves/s (durable batches of 1,000)': appendRate,
      [`import leaves/s (public API, max-range ${maxRange}, 8 in flight)`]: rate,
      'import / local append (target ≥ 0.3)': rate / appendRate,
      'import seconds': seconds,
    };
  } finally {
    await proc?.stop();
    dir.remove();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const leaves = Number(process.env.LEAVES ?? 1_000_000);
  const which = process.argv[2] ?? 'both';
  if (which !== 'backup') console.log(await benchImport(leaves));
  // BACKUP_MAX_RATE=0,8,16: one backup bench per rate (MiB/s; unset: the default).
  const rates = process.env.BACKUP_MAX_RATE?.split(',').map(Number) ?? [undefined];
  for (const maxRateMib of rates) {
    if (which !== 'import') console.log({ maxRateMib: maxRateMib ?? 'default', ...(await benchBackup(leaves, { maxRateMib, rounds: Number(process.env.ROUNDS ?? 3) })) });
  }
}
