// `sigsum-log init`: prepares a new log, like log-go's sigsum-mktree: writes
// `<sth-file>.startup` with startup=empty, so the primary's first start signs
// the empty tree head.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { SthFile } from '../storage/sth-file.js';

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('prepare a new, empty log: writes <sth-file>.startup with startup=empty')
    .option('--config <file>', 'the primary config file')
    .action((opts: { config?: string }) => {
      const config = loadConfig({ role: 'primary', configFile: opts.config, flags: {} });
      const sth = new SthFile(config.primary.sthFile);
      if (sth.exists()) throw new ConfigError(`${sth.path} exists: this log is already initialized`);
      if (existsSync(sth.startupPath)) {
        process.stdout.write(`${sth.startupPath} already exists (startup=${sth.readStartup()})\n`);
        return;
      }
      sth.writeStartup('empty');
      process.stdout.write(`wrote ${sth.startupPath}; start the primary with: sigsum-log --role primary --config ${opts.config ?? '<file>'}\n`);
    });
}
