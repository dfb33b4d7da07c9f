// The replication gate: how far the primary may advance its signed tree head.
// (Placeholder until the replication work lands: no secondaries supported yet.)
import { ConfigError } from '../errors.js';
import type { ExtensionContext } from './extensions.js';
import type { ReplicationGate } from './rotation.js';

export interface ReplicationParts {
  gate: ReplicationGate;
  /** Refuses to start when a secondary holds a tree that is not a prefix of ours. */
  checkNotForked?: () => Promise<void>;
}

/** undefined when no secondaries are configured (single-node mode). */
export function buildReplicationGate(ctx: ExtensionContext): ReplicationParts | undefined {
  if (ctx.config.primary.secondaryUrls.length === 0) return undefined;
  throw new ConfigError('secondaries are not supported yet');
}
