// `sigsum-log witness`: a C2SP tlog-witness for tests, local setups and
// operators trying out a log.
import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { createLogger, LOG_FORMATS, type LogFormat, type LogLevel } from '../log.js';
import { startWitness } from '../witness/run.js';

interface WitnessOptions {
  keyFile: string;
  logPubkeyFile: string[];
  state: string;
  listen: string;
  urlPrefix: string;
  logLevel: string;
  logFormat: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function registerWitnessCommand(program: Command): void {
  program
    .command('witness')
    .description('run a C2SP tlog-witness (add-checkpoint) cosigning the given Sigsum logs')
    .requiredOption('--key-file <file>', "the witness's Ed25519 private key (OpenSSH format), or its public key file to sign through the ssh-agent at $SSH_AUTH_SOCK")
    .requiredOption('--log-pubkey-file <file>', 'public key of a log to cosign (repeatable)', collect)
    .requiredOption('--state <file>', 'state file: the latest cosigned checkpoint of each log (replaced atomically)')
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)', '127.0.0.1:0')
    .option('--url-prefix <prefix>', 'prefix that precedes /add-checkpoint', '')
    .option('--log-level <level>', 'debug, info, warning or error', 'info')
    .option('--log-format <format>', 'text, or json (one object per line)', 'text')
    .action(async (opts: WitnessOptions) => {
      if (!['debug', 'info', 'warning', 'error'].includes(opts.logLevel)) {
        throw new ConfigError(`--log-level must be debug, info, warning or error, got "${opts.logLevel}"`);
      }
      if (!(LOG_FORMATS as readonly string[]).includes(opts.logFormat)) {
        throw new ConfigError(`--log-format must be text or json, got "${opts.logFormat}"`);
      }
      const log = createLogger(opts.logLevel as LogLevel, '', 'witness', opts.logFormat as LogFormat);
      // Handlers first: a SIGTERM right after "listening" is a clean stop, not the default kill.
      let running: Awaited<ReturnType<typeof startWitness>> | undefined;
      let stopRequested = false;
      const shutdown = (signal: string): void => {
        if (stopRequested) process.exit(1);
        stopRequested = true;
        log.info(`${signal}: shutting down`);
        if (running !== undefined) void running.stop().finally(() => process.exit(0));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      running = await startWitness(
        { keyFile: opts.keyFile, logPubkeyFiles: opts.logPubkeyFile, stateFile: opts.state, listen: opts.listen, urlPrefix: opts.urlPrefix },
        log,
      );
      if (stopRequested) void running.stop().finally(() => process.exit(0));
    });
}
