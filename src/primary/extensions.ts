// Builds the optional parts of a primary from its config: the replication
// gate (secondaries), the witness cosigner (policy file) and the submission
// limiter (rate limits, submit tokens). Each lives in its own module.
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import type { TreeStore } from '../tree/store.js';
import type { Hash, PublicKey } from '../types.js';
import type { SignatureVerifier } from './log-service.js';
import type { PrimaryExtensions } from './node.js';
import { buildReplicationGate, type GateObserver } from './replication-gate.js';
import { buildCosigner, type CosignObserver } from './witness-cosigner.js';
import { buildSubmissionLimiter } from './submission-limiter.js';

export interface ExtensionContext {
  config: Config;
  log: Logger;
  logPublicKey: PublicKey;
  logKeyHash: Hash;
  tree: TreeStore;
  /** Told what the secondaries and witnesses answer (the status model behind /metrics and the pages). */
  observe?: { gate?: GateObserver; cosign?: CosignObserver };
  /** Ed25519 off the main thread (the node's verify pool), for submit tokens; default: on the calling thread. */
  verify?: SignatureVerifier;
}

export async function buildPrimaryExtensions(ctx: ExtensionContext): Promise<PrimaryExtensions> {
  const replication = buildReplicationGate(ctx);
  return {
    gate: replication?.gate,
    beforeServing: replication?.checkNotForked,
    close: replication?.close,
    cosigner: buildCosigner(ctx),
    limiter: await buildSubmissionLimiter(ctx),
  };
}
