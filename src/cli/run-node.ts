// Starts the node for the configured role.
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { runPrimary } from '../primary/node.js';

export interface RunningNode {
  stop(): Promise<void>;
}

export async function startNode(config: Config, log: Logger): Promise<RunningNode> {
  if (config.role === 'primary') return runPrimary(config, log);
  const { runSecondary } = await import('../secondary/node.js');
  return runSecondary(config, log);
}
