// Starts the node for the configured role, and its periodic backups ([backup] dir).
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { mibPerSecond } from '../backup/pace.js';
import { startPeriodicBackups } from '../backup/periodic.js';
import { runPrimary } from '../primary/node.js';

export interface RunningNode {
  stop(): Promise<void>;
}

export async function startNode(config: Config, log: Logger): Promise<RunningNode> {
  const node = await startRoleNode(config, log);
  if (config.backup.dir === '') return node;
  const backups = startPeriodicBackups({
    dbFile: config.dbFile,
    sthFile: config.role === 'primary' ? config.primary.sthFile : undefined,
    dir: config.backup.dir,
    intervalMs: config.backup.intervalMs,
    keep: config.backup.keep,
    bytesPerSecond: mibPerSecond(config.backup.maxRateMib),
    log,
  });
  const rate = config.backup.maxRateMib === 0 ? 'no rate limit' : `copy and hashing at most ${config.backup.maxRateMib} MiB/s`;
  log.info(`periodic backups into ${config.backup.dir} every ${config.backup.intervalMs} ms, keeping ${config.backup.keep}, ${rate}`);
  return {
    stop: async () => {
      await backups.stop(); // abandons a backup in progress
      await node.stop();
    },
  };
}

async function startRoleNode(config: Config, log: Logger): Promise<RunningNode> {
  if (config.role === 'primary') return runPrimary(config, log);
  const { runSecondary } = await import('../secondary/node.js');
  return runSecondary(config, log);
}
