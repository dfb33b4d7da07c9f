// Usage errors of the lifecycle commands exit with status 2, as config
// errors do, so that 1 always means "a check failed". (Commander's own
// default is 1 for a missing or unknown option.)
import type { Command } from 'commander';

export function exitOnUsageError(command: Command): Command {
  return command.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });
}
