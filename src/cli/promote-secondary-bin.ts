#!/usr/bin/env node
// The `promote-secondary` bin: the same command as `sigsum-log promote-secondary`.
import { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { configurePromoteCommand } from './failover.js';

try {
  await configurePromoteCommand(new Command('promote-secondary')).parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`promote-secondary: ${err.message}\n`);
  process.exit(2);
}
