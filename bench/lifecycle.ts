// Lifecycle figures at `leaves` leaves, with real processes over loopback:
//  1. backup: `sigsum-log backup` of a running primary, leaves/s (and MiB/s);
//     add-leaf throughput while backups run back to back, as a ratio to
//     add-leaf without one, both for the CLI (another process) and for the
//     node's own periodic backup (a worker thread in the node), in windows
//     alternating with the ones without; `node dist/bench/lifecycle.js backup`
//     runs only this part (BACKUP_MAX_RATE=0,16 for one run per rate).
//  2. import: `sigsum-log import` of a primary's public API serving
//     max-range 512, leaves/s, as a ratio of the local append rate measured
//     in the same run (building the source tree). Target ≥ 0.3.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSeed, signerFromSeed } from '../src/crypto/index.js';
import { signLeaf } from '../src/formats/leaf.js';
import { formatAddLeafRequest, parseCosignedTreeHead } from '../src/formats/messages.js';
import { TreeStore } from '../src/tree/store.js';
import { asHash } from '../src/types.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir, writeToml, type PrimarySetup } from '../test/helpers/log-fixture.js';
import { http, runCli, spawnCli, type NodeProcess } from '../test/helpers/node-process.js';
import { postAll } from './http-load.js';

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

async function addLeafRate(setup: PrimarySetup, bodies: string[]): Promise<number> {
  const { statuses, seconds } = await postAll('127.0.0.1', setup.publicPort, '/add-leaf', bodies, 64);
  return statuses.filter((s) => s === 200 || s === 202).length / seconds;
}

async function publishedSize(publicUrl: string): Promise<number> {
  const res = await http(`${publicUrl}/get-tree-head`);
  return res.status === 200 ? parseCosignedTreeHead(res.body).size : -1;
}

/**
 * Backup figures. add-leaf is measured in windows of `submissions` requests,
 * alternating without and with backups, `rounds` times, so that the other
 * load of a shared machine weighs on both alike; each ratio is the mean rate
 * during backups over the mean rate without. `maxRateMib` is given to
 * `backup --max-rate` and `[backup] max-rate` (undefined: the default; a
 * build without the option must leave it undefined).
 */
export async function benchBackup(count: number, submissions = 20_000, opts: { rounds?: number; maxRateMib?: number } = {}): Promise<Record<string, number>> {
  const rounds = opts.rounds ?? 3;
  const rateArgs = opts.maxRateMib === undefined ? [] : ['--max-rate', String(opts.maxRateMib)];
  const rateKey = opts.maxRateMib === undefined ? '' : `max-rate = ${opts.maxRateMib}\n`;
  const dir = tempDir('sigsum-bench-backup-');
  let proc: NodeProcess | undefined;
  try {
    const setup = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-pending': 200_000 } });
    buildTree(setup.dbFile, count);
    writeFileSync(`${setup.sthFile}.startup`, 'startup=local-tree\n');
    const plainConfig = readFileSync(setup.config, 'utf8');
    const withBackups = `${plainConfig}\n[backup]\ndir = ${JSON.stringify(join(dir.path, 'periodic'))}\ninterval = "1s"\nkeep = 1\n${rateKey}`;
    proc = await startNodeProcess('primary', setup);

    // Backup alone, of the idle running primary.
    const t0 = performance.now();
    const alone = await runCli(['backup', '--config', setup.config, '--out', join(dir.path, 'alone'), ...rateArgs], 600_000);
    const aloneSeconds = (performance.now() - t0) / 1000;
    if (alone.code !== 0) throw new Error(`backup failed: ${alone.output}`);
    const copySize = Number(/tree size (\d+)/.exec(alone.output)?.[1]);
    const copyBytes = statSync(join(dir.path, 'alone', 'log.db')).size;

    const baseline: number[] = [];
    const duringCli: number[] = [];
    const duringPeriodic: number[] = [];
    let cliBackups = 0;
    let periodicBackups = 0;
    let n = 0;
    for (let round = 0; round < rounds; round++) {
      // Without a backup (the node as started without [backup]).
      baseline.push(await addLeafRate(setup, addLeafBodies(submissions)));

      // While CLI backups run back to back in another process; the one running
      // when the window ends is killed (a bench, not a backup).
      const bodies = addLeafBodies(submissions);
      let running = true;
      let current: NodeProcess | undefined;
      const loop = (async () => {
        while (running) {
          current = spawnCli(['backup', '--config', setup.config, '--out', join(dir.path, `during-${n++}`), ...rateArgs], { name: 'backup' });
          const code = await current.exited;
          if (running && code !== 0) throw new Error(`backup failed: ${current.output}`);
          if (running) cliBackups++;
        }
      })();
      await sleep(300); // let the first backup start copying
      duringCli.push(await addLeafRate(setup, bodies));
      running = false;
      await current?.kill9();
      await loop;

      // While the node itself backs up (periodic, every second: back to back).
      await proc.stop();
      writeFileSync(setup.config, withBackups);
      proc = await startNodeProcess('primary', setup);
      const periodicBodies = addLeafBodies(submissions);
      await proc.waitForOutput(/periodic backups into/, 60_000);
      await sleep(300);
      duringPeriodic.push(await addLeafRate(setup, periodicBodies));
      periodicBackups += (proc.output.match(/backup: \S+ \(tree size/g) ?? []).length;
      await proc.stop();
      writeFileSync(setup.config, plainConfig);
      proc = await startNodeProcess('primary', setup);
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratios = (xs: number[]): number[] => xs.map((x, i) => x / (baseline[i] as number));
    return {
      'backup leaves/s (sigsum-log backup, idle running primary)': copySize / aloneSeconds,
      'backup MiB/s of database (idle running primary)': copyBytes / 1024 / 1024 / aloneSeconds,
      'backup seconds': aloneSeconds,
      'add-leaf leaves/s without a backup (mean of the rounds)': mean(baseline),
      'add-leaf leaves/s during CLI backups': mean(duringCli),
      'ratio during CLI backups / without': mean(duringCli) / mean(baseline),
      'ratio during CLI backups, lowest round': Math.min(...ratios(duringCli)),
      'ratio during CLI backups, highest round': Math.max(...ratios(duringCli)),
      'CLI backups finished meanwhile': cliBackups,
      'add-leaf leaves/s during the node\'s periodic backups': mean(duringPeriodic),
      'ratio during periodic backups / without': mean(duringPeriodic) / mean(baseline),
      'ratio during periodic backups, lowest round': Math.min(...ratios(duringPeriodic)),
      'ratio during periodic backups, highest round': Math.max(...ratios(duringPeriodic)),
      'periodic backups finished (incl. outside the windows)': periodicBackups,
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
    if (which !== 'import') console.log({ maxRateMib: maxRateMib ?? 'default', ...(await benchBackup(leaves, 20_000, { maxRateMib })) });
  }
}
