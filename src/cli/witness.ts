// `sigsum-log witness`: a C2SP tlog-witness for tests and local setups. (Placeholder.)
import type { Command } from 'commander';

export function registerWitnessCommand(_program: Command): void {}
