// `sigsum-log import --config C --from URL [--follow]`: copy a running log
// from its public API into a replica database (src/replication/import.ts).
// Exit status: 0 caught up (or stopped by a signal with --follow); 1 the
// source was refused or could not be read; 2 usage or config error.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig } from '../config/config.js';
import { readPublicKeyFile } from '../crypto/keyfile.js';
import { ConfigError, UpstreamError } from '../errors.js';
import { InternalApiClient, normalizeBaseUrl } from '../internal-api/client.js';
import { createLogger } from '../log.js';
import { openTreeForRole } from '../node-common.js';
import { runImport } from '../replication/import.js';
import { createProgress } from './progress.js';
import { exitOnUsageError } from './usage.js';
import { openStoppedNodeDatabase } from '../failover/stopped-node-db.js';

interface ImportFlags {
  config?: string;
  from?: string;
  follow?: boolean;
}

/** get-leaves requests in flight (one connection each). */
const IN_FLIGHT = 8;

export function registerImportCommand(program: Command): void {
  exitOnUsageError(
    program
      .command('import')
      .description("copy a running Sigsum log from its public API (get-tree-head, get-leaves) into a new replica database; promote it with promote-secondary")
      .option('--config <file>', 'a secondary-style config: db-file, key-file, [secondary] log-pubkey-file (primary-url is not needed)')
      .option('--from <url>', "the log's public base URL, e.g. https://log.example.org or http://10.0.0.1:6965/prefix")
      .option('--follow', 'keep polling the source at `interval` after catching up (stop with SIGTERM or SIGINT)'),
  ).action(async (flags: ImportFlags) => {
    if (flags.config === undefined) throw new ConfigError('import: --config is required');
    if (flags.from === undefined) throw new ConfigError('import: --from is required');
    let from: string;
    try {
      from = normalizeBaseUrl(flags.from);
    } catch (err) {
      throw new ConfigError(`import: --from: ${(err as Error).message}`);
    }
    const config = loadConfig({ role: 'secondary', configFile: flags.config, flags: {}, requirePrimaryUrl: false });
    if (config.secondary.logPubkeyFile === '') {
      throw new ConfigError("import: [secondary] log-pubkey-file is not set: the log's public key is needed to verify what is imported");
    }
    if (!existsSync(config.secondary.logPubkeyFile)) throw new ConfigError(`import: log-pubkey-file ${config.secondary.logPubkeyFile} does not exist`);
    const logKey = readPublicKeyFile(config.secondary.logPubkeyFile);
    if (!existsSync(dirname(config.dbFile))) throw new ConfigError(`import: the directory of db-file ${config.dbFile} does not exist`);
    const log = createLogger(config.logLevel, config.logFile, 'import');
    // A node running on this database would make the import's writes fail half-way
    // (the node is its sole writer): refuse at once instead. The check takes SQLite's
    // exclusive lock for a moment, which a running node prevents.
    if (existsSync(config.dbFile)) openStoppedNodeDatabase(config.dbFile).close();
    const store = openTreeForRole(config.dbFile, 'replica');
    const client = new InternalApiClient({ baseUrl: from, timeoutMs: config.timeoutMs, connections: IN_FLIGHT });
    const progress = createProgress({ label: 'import', unit: 'leaves' });
    let progressShown = false;
    let onSignal: () => void = () => undefined;
    const stopSignal = new Promise<void>((resolve) => {
      onSignal = resolve;
    });
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    const say = (line: string): void => {
      if (progressShown) progress.finish();
      progressShown = false;
      process.stdout.write(`${line}\n`);
    };
    try {
      process.stdout.write(`import: from ${from} into ${config.dbFile}\n`);
      const result = await runImport({
        store,
        api: client,
        sourceName: from,
        logKey,
        log,
        follow: flags.follow === true,
        intervalMs: config.intervalMs,
        maxInFlight: IN_FLIGHT,
        say,
        onProgress: (stored, target) => {
          progressShown = true;
          progress.update(stored, target);
        },
        stopSignal,
      });
      switch (result.kind) {
        case 'caught-up':
          break;
        case 'stopped':
          say(`stopped at verified size ${result.head.size}; run the same command again to resume`);
          if (flags.follow !== true) process.exitCode = 1;
          break;
        case 'refused':
          process.stderr.write(`import: REFUSED: ${result.message}\n`);
          process.exitCode = 1;
          break;
        case 'unavailable':
          process.stderr.write(`import: ${result.message}\n`);
          process.exitCode = 1;
          break;
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      // One line, never a stack: an unreachable source, or a write that failed
      // (a full disk, another program writing the database).
      process.stderr.write(`import: ${err instanceof UpstreamError ? '' : 'failed: '}${(err as Error).message ?? String(err)}\n`);
      process.exitCode = 1;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      await client.close();
      store.close();
    }
  });
}
