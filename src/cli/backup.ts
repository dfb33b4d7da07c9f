// `sigsum-log backup` (online, on a running or stopped node) and
// `sigsum-log restore` (into a new replica database). Exit status: 0 done;
// 1 refused (non-empty directory, damaged or unfinished backup, existing
// database, a database that disagrees with its sth file); 2 usage or config.
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config.js';
import { readPublicKeyFile } from '../crypto/keyfile.js';
import { ConfigError } from '../errors.js';
import { createBackup, BackupRefusal } from '../backup/backup.js';
import { DEFAULT_MAX_RATE_MIB, MAX_RATE_MIB_LIMIT, mibPerSecond } from '../backup/pace.js';
import { restoreBackup } from '../backup/restore.js';
import { createProgress } from './progress.js';
import { exitOnUsageError } from './usage.js';

interface BackupFlags {
  config?: string;
  out?: string;
  maxRate?: string;
}

interface RestoreFlags {
  config?: string;
  from?: string;
}

/** Any node's config: the role is the database's (a primary's sth file is backed up when the database is a primary's). */
function loadAnyConfig(file: string): Config {
  return loadConfig({ role: 'secondary', configFile: file, flags: {}, requirePrimaryUrl: false });
}

/** --max-rate: whole MiB/s within [backup] max-rate's range, as config.ts checks that key. */
function parseMaxRate(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_RATE_MIB_LIMIT) {
    throw new ConfigError(`backup: --max-rate must be a whole number of MiB/s from 0 (no limit) to ${MAX_RATE_MIB_LIMIT}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

async function refusalsExit1(run: () => Promise<void>, command: string): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!(err instanceof BackupRefusal)) throw err;
    process.stderr.write(`${command}: REFUSED: ${err.message}\n`);
    process.exitCode = 1;
  }
}

export function registerBackupCommands(program: Command): void {
  exitOnUsageError(
    program
      .command('backup')
      .description("a consistent online copy of the node's database (SQLite's backup API), sth and startup files, and a manifest with their SHA-256; safe while the node runs")
      .option('--config <file>', "the node's config file (primary or secondary)")
      .option('--out <dir>', 'an empty or new directory to write the backup into')
      .option(
        '--max-rate <MiB/s>',
        `rate limit of the database copy and, separately, of its SHA-256, so the node keeps its add-leaf throughput; 0: no limit (default: the config's [backup] max-rate, else ${DEFAULT_MAX_RATE_MIB})`,
      ),
  ).action(async (flags: BackupFlags) => {
    if (flags.config === undefined) throw new ConfigError('backup: --config is required');
    if (flags.out === undefined) throw new ConfigError('backup: --out is required');
    const maxRate = flags.maxRate === undefined ? undefined : parseMaxRate(flags.maxRate);
    const config = loadAnyConfig(flags.config);
    const outDir = flags.out;
    await refusalsExit1(async () => {
      const progress = createProgress({ label: 'backup', unit: 'pages' });
      const manifest = await createBackup({
        dbFile: config.dbFile,
        sthFile: config.primary.sthFile,
        outDir,
        bytesPerSecond: mibPerSecond(maxRate ?? config.backup.maxRateMib),
        onProgress: (done, total) => progress.update(done, total),
      });
      progress.finish();
      const head = manifest.publishedHead;
      process.stdout.write(
        `backup: ${outDir}: tree size ${manifest.tree.size} root ${manifest.tree.root}, lifecycle ${manifest.lifecycle}, ` +
          (head === null ? 'no published tree head' : `published tree head size ${head.size} (${head.source})`) +
          `, ${manifest.files.length} files\n`,
      );
    }, 'backup');
  });

  exitOnUsageError(
    program
      .command('restore')
      .description('install a backup as a new replica database; it then catches up from a surviving node and is promoted with promote-secondary')
      .option('--from <dir>', 'the backup directory (with manifest.json)')
      .option('--config <file>', "the restored node's config (a secondary's: db-file, [secondary] primary-url and log-pubkey-file)"),
  ).action(async (flags: RestoreFlags) => {
    if (flags.from === undefined) throw new ConfigError('restore: --from is required');
    if (flags.config === undefined) throw new ConfigError('restore: --config is required');
    const config = loadAnyConfig(flags.config);
    const logPublicKey = config.secondary.logPubkeyFile === '' ? undefined : readPublicKeyFile(config.secondary.logPubkeyFile);
    const fromDir = flags.from;
    await refusalsExit1(async () => {
      const r = await restoreBackup({ fromDir, dbFile: config.dbFile, logPublicKey });
      const m = r.manifest;
      const lines = [
        `restore: checked ${m.files.length} files against ${fromDir}/manifest.json (taken ${m.createdAt} by ${m.software}, lifecycle ${m.lifecycle})`,
        `restore: installed ${config.dbFile} in the replica state: tree size ${m.tree.size}, verified up to ${r.verifiedSize}` +
          (r.publishedSize === undefined ? ', no published tree head recorded' + (logPublicKey === undefined && m.lifecycle !== 'replica' ? ' (set [secondary] log-pubkey-file to record the sth file\'s)' : '') : `, published tree head size ${r.publishedSize} recorded`),
      ];
      if (r.sthCopy !== undefined) lines.push(`restore: the backup's sth file is at ${r.sthCopy} (give it to promote-secondary as --published-head)`);
      lines.push(
        'Next: this node never signs from the backup. Set [secondary] primary-url to a surviving secondary\'s internal URL, start it with',
        `  sigsum-log --role secondary --config ${flags.config}`,
        'wait until its size equals that secondary\'s, stop it, and promote it:',
        `  sigsum-log promote-secondary --config ${flags.config} --log-key-file <log key>` +
          (r.sthCopy === undefined ? '' : ` --published-head ${r.sthCopy}`) +
          ' --published-head <any newer sth or public URL> --peer <other secondaries>',
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    }, 'restore');
  });
}
