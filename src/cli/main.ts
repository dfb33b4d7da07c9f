#!/usr/bin/env node
// sigsum-log: one binary for every role and runbook command.
import { Command, Option } from 'commander';
import { ConfigError } from '../errors.js';
import { DatabaseOpenError } from '../tree/errors.js';
import { SETTINGS, flagName, loadConfig, settingsHelp, type Config, type Role } from '../config/config.js';
import { versionString } from '../version.js';
import { createLogger, type Logger } from '../log.js';
import { registerKeyCommands } from './keys.js';
import { registerInitCommand } from './init.js';
import { registerLocalCommand } from './local.js';
import { startNode, type RunningNode } from './run-node.js';
import { registerWitnessCommand } from './witness.js';
import { registerFailoverCommands } from './failover.js';
import { registerImportCommand } from './import.js';
import { registerBackupCommands } from './backup.js';
import { registerVerifyTilesCommand } from './verify-tiles.js';
import { registerFsckCommand } from './fsck.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function buildProgram(): Command {
  const program = new Command('sigsum-log');
  // Node flags (--key-file, --config, ...) only before a subcommand, so that
  // subcommands may define options of the same name (witness --key-file, init --config).
  program
    .enablePositionalOptions()
    .version(versionString(), '--version', 'print the version (package version and git commit) and exit')
    .description('A Sigsum transparency log server (primary or secondary node) and its runbook tools.')
    .addOption(new Option('--role <role>', 'which node to run').choices(['primary', 'secondary']))
    .option('--config <file>', 'TOML config file (default: $SIGSUM_LOGSERVER_CONFIG, else /etc/sigsum/config.toml)');
  for (const s of SETTINGS) {
    const flag = flagName(s);
    if (s.kind === 'bool') program.option(`--${flag} [bool]`, s.help);
    else if (s.kind === 'path-list' || s.kind === 'string-list') program.option(`--${flag} <value>`, `${s.help} (repeatable)`, collect);
    else program.option(`--${flag} <value>`, s.help);
  }
  program.addHelpText('after', `\nEvery config key is also a flag of the same name that overrides the file:\n${settingsHelp()}\n`);
  program.action(async (opts: Record<string, unknown>) => {
    const role = opts.role as Role | undefined;
    if (role === undefined) {
      program.help({ error: true });
    }
    const flags: Record<string, string | string[] | boolean | undefined> = {};
    for (const s of SETTINGS) {
      const flag = flagName(s);
      const camel = flag.replace(/-([a-z])/g, (_m, ch: string) => ch.toUpperCase());
      const v = opts[camel];
      if (v !== undefined) flags[flag] = v === true ? 'true' : (v as string | string[]);
    }
    const config = loadConfig({ role: role as Role, configFile: opts.config as string | undefined, flags });
    const log = createLogger(config.logLevel, config.logFile, role, config.logFormat);
    for (const w of config.warnings) log.warning(w);
    await runUntilSignal(config, log);
  });
  registerInitCommand(program);
  registerKeyCommands(program);
  registerLocalCommand(program);
  registerWitnessCommand(program);
  registerFailoverCommands(program);
  registerImportCommand(program);
  registerBackupCommands(program);
  registerVerifyTilesCommand(program);
  registerFsckCommand(program);
  return program;
}

/**
 * A clean shutdown that takes longer than this (it should not: every step is
 * bounded) ends with exit 1, as if it had been killed.
 */
const SHUTDOWN_LIMIT_MS = 30_000;

async function runUntilSignal(config: Config, log: Logger): Promise<void> {
  // The handlers are in place before the node starts: a SIGTERM that arrives
  // while it starts (or just after it logged that it listens) is a clean stop
  // once it is up, not the default action (killed mid-start).
  let node: RunningNode | undefined;
  let stopRequested = false;
  const stop = (running: RunningNode): void => {
    const limit = setTimeout(() => {
      log.error(`shutdown did not finish within ${SHUTDOWN_LIMIT_MS / 1000} s: exiting`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    limit.unref();
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      // The operator insists: as safe as kill -9 (leaves answered 202 but
      // not yet sequenced are lost; their submitters retry).
      log.warning(`${signal} again: exiting at once, without finishing the shutdown`);
      process.exit(1);
    }
    stopRequested = true;
    log.info(`${signal}: shutting down (send it again to exit at once)`);
    if (node !== undefined) stop(node);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  node = await startNode(config, log);
  if (stopRequested) stop(node);
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // A db-file SQLite cannot open is a configuration error too (fsck, which
    // checks databases, reports it as a failed check instead).
    if (err instanceof ConfigError || err instanceof DatabaseOpenError) {
      process.stderr.write(`sigsum-log: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

await main(process.argv);
