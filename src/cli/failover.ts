// Failover and lifecycle runbook commands: promote-secondary (also its own
// bin), secondary-truncate, freeze and unfreeze. Each prints a numbered
// runbook; a refusal has already been printed under its step, so it only sets
// the exit status (1).
import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { promoteSecondary } from '../failover/promote.js';
import { RunbookRefusal, type LineWriter } from '../failover/runbook.js';
import { truncateSecondary } from '../failover/truncate.js';
import { setFrozen } from '../failover/freeze.js';

interface PromoteFlags {
  config: string;
  logKeyFile: string;
  publishedHead: string[];
  peer: string[];
  secondaryUrl: string[];
  secondaryPubkeyFile: string[];
  sthFile?: string;
  primaryConfig?: string;
  dryRun?: boolean;
}

interface TruncateFlags {
  config: string;
  toSize: string;
  dryRun?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Usage errors (a missing or unknown option) exit 2, as configuration errors do; --help exits 0. */
export function usageErrorsExit2(command: Command): Command {
  return command.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
}

const printLine: LineWriter = (line) => void process.stdout.write(`${line}\n`);

async function runbook(run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (!(err instanceof RunbookRefusal)) throw err;
    process.exitCode = 1;
  }
}

/** Adds promote-secondary's options and action to `command` (a subcommand, or the promote-secondary bin's program). */
export function configurePromoteCommand(command: Command): Command {
  return command
    .description('turn a stopped secondary into the log\'s primary, checking first that no published leaf is lost and the log does not fork')
    .requiredOption('--config <file>', "the secondary's config file")
    .requiredOption('--log-key-file <file>', "the log's private signing key (the backup of the old primary's key-file), or its public key file when the ssh-agent at $SSH_AUTH_SOCK holds the key")
    .option('--published-head <file|url>', "a published tree head to check against: the old primary's sth file, a saved get-tree-head answer, or the old primary's public URL (repeatable)", collect, [])
    .option('--peer <url>', "another secondary's internal URL; refuse if it holds more of the log (repeatable)", collect, [])
    .option('--secondary-url <url>', "a secondary of the new primary, for the primary config (repeatable, paired with --secondary-pubkey-file)", collect, [])
    .option('--secondary-pubkey-file <file>', "that secondary's public key file (repeatable, in the order of --secondary-url)", collect, [])
    .option('--sth-file <file>', "the new primary's sth file (default: [primary] sth-file of the config, else <db-file without extension>.sth)")
    .option('--primary-config <file>', 'where to write the primary config (default: <config without extension>-primary.toml)')
    .option('--dry-run', 'run every check, change nothing')
    .action(async (flags: PromoteFlags) => {
      if (flags.secondaryUrl.length !== flags.secondaryPubkeyFile.length) {
        throw new ConfigError(
          `${flags.secondaryUrl.length} --secondary-url but ${flags.secondaryPubkeyFile.length} --secondary-pubkey-file; give them in pairs`,
        );
      }
      await runbook(() =>
        promoteSecondary(
          {
            configFile: flags.config,
            logKeyFile: flags.logKeyFile,
            publishedHeads: flags.publishedHead,
            peers: flags.peer,
            secondaries: flags.secondaryUrl.map((url, i) => ({ url, pubkeyFile: flags.secondaryPubkeyFile[i] as string })),
            sthFile: flags.sthFile,
            primaryConfigFile: flags.primaryConfig,
            dryRun: flags.dryRun === true,
          },
          printLine,
        ),
      );
    });
}

export function registerFailoverCommands(program: Command): void {
  configurePromoteCommand(program.command('promote-secondary'));
  for (const [name, to, what] of [
    ['freeze', 'frozen', 'freeze a stopped primary: from its next start it accepts no new leaves but keeps serving, replicating and re-cosigning its final tree head'],
    ['unfreeze', 'appending', 'unfreeze a stopped frozen primary: from its next start it accepts new leaves again'],
  ] as const) {
    usageErrorsExit2(program.command(name))
      .description(what)
      .requiredOption('--config <file>', "the primary's config file")
      .action(async (flags: { config: string }) => {
        await runbook(() => setFrozen({ configFile: flags.config, to }, printLine));
      });
  }
  program
    .command('secondary-truncate')
    .description('let a stopped secondary re-attach to a new primary: discard its leaves from --to-size on, never below a published tree head it verified')
    .requiredOption('--config <file>', "the secondary's config file")
    .requiredOption('--to-size <n>', 'the number of leaves to keep')
    .option('--dry-run', 'show what would be discarded, change nothing')
    .action(async (flags: TruncateFlags) => {
      if (!/^(0|[1-9][0-9]*)$/.test(flags.toSize) || !Number.isSafeInteger(Number(flags.toSize))) {
        throw new ConfigError(`--to-size must be a non-negative integer, got "${flags.toSize}"`);
      }
      await runbook(() => truncateSecondary({ configFile: flags.config, toSize: Number(flags.toSize), dryRun: flags.dryRun === true }, printLine));
    });
}
