// Failover runbook commands: promote-secondary, secondary-truncate. (Placeholder.)
import type { Command } from 'commander';

export function registerFailoverCommands(_program: Command): void {}
