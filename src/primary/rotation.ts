// Tree head rotation: every interval, pick the newest size the replication
// gate allows, sign it, have it cosigned as the policy requires, make it
// durable, and only then publish it.
//
// Invariants (checked here, not assumed):
//  - the published size never decreases;
//  - every published head is consistent with the previous one (verified with
//    a consistency proof from the store before signing).
import type { CosignedTreeHead, Cosignature, SignedTreeHead, TreeHead } from '../formats/tree-head.js';
import { signTreeHeadWith } from '../formats/checkpoint.js';
import type { Logger } from '../log.js';
import { RepeatFilter } from '../log-repeats.js';
import { verifyConsistency } from '../tree/verify.js';
import { bytesEqual } from '../hex.js';
import type { AsyncSigner, Hash } from '../types.js';
import type { PublishedHead } from './published-head.js';

/** The tree reads rotation needs. */
export interface RotationTree {
  size(): number;
  rootAt(size: number): Hash;
  consistencyProof(oldSize: number, newSize: number): Hash[];
}

/** Decides how far the published head may advance: the replicated size. */
export interface ReplicationGate {
  /** The largest size ≤ localSize that every secondary has durably replicated. */
  allowedSize(localSize: number): Promise<number>;
}

/** Collects witness cosignatures for a signed tree head. */
export interface Cosigner {
  /**
   * Resolves to the verified cosignatures when they satisfy the policy's
   * quorum, or undefined when they do not (the head must not be published).
   */
  cosign(next: SignedTreeHead, previous: SignedTreeHead): Promise<Cosignature[] | undefined>;
}

/**
 * What one rotation did (sigsum_log_rotations_total{outcome}): published a new
 * head (larger, or the same size freshly cosigned); unchanged (nothing new:
 * idle, or the same head again); gate_held (leaves beyond the published size
 * wait for the secondaries); quorum_not_met; failed (threw).
 */
export type RotationOutcome = 'published' | 'unchanged' | 'gate_held' | 'quorum_not_met' | 'failed';

export interface RotatorDeps {
  tree: RotationTree;
  /** In memory or an ssh-agent; a failed signing fails the rotation and keeps the old head. */
  signer: AsyncSigner;
  gate: ReplicationGate;
  cosigner: Cosigner | undefined;
  /** Makes a head durable (sth file, then cosignatures). Durable once it returns. */
  persist(head: CosignedTreeHead): void;
  published: PublishedHead;
  idleIntervalMs: number;
  now(): number;
  log: Logger;
  /** Told the outcome of every rotation that returns (a throw is the caller's 'failed'). */
  onOutcome?: (outcome: RotationOutcome) => void;
}

export class Rotator {
  private lastCosignedAt = Number.NEGATIVE_INFINITY;
  private abandoned = false;
  private readonly repeats: RepeatFilter;

  constructor(private readonly deps: RotatorDeps) {
    this.repeats = new RepeatFilter(deps.log);
  }

  /**
   * Makes a rotation in progress end without persisting or publishing
   * anything when its awaits (gate, signer, witnesses) resolve, and every
   * later one return at once: for a shutdown that does not wait for slow
   * peers. Always safe: an unpublished head is as if never signed.
   */
  abandon(): void {
    this.abandoned = true;
  }

  /**
   * One rotation. Never throws for a failed gate or quorum; keeps the old head
   * then. Throws when the key cannot sign (agent gone): nothing is published.
   */
  async rotate(): Promise<CosignedTreeHead> {
    const { tree, published, log } = this.deps;
    const previous = published.current;
    const localSize = tree.size();
    if (this.abandoned) return previous;
    const allowed = Math.min(await this.deps.gate.allowedSize(localSize), localSize);
    if (this.abandoned) return previous;
    const size = Math.max(allowed, previous.size);
    const now = this.deps.now();
    const idle = size === previous.size && previous.cosignatures.length > 0 && now - this.lastCosignedAt < this.deps.idleIntervalMs;
    const unchanged = localSize > size ? 'gate_held' : 'unchanged';
    if (this.deps.cosigner !== undefined && idle) {
      this.deps.onOutcome?.(unchanged);
      return previous; // spare the witnesses until idle-interval passes
    }
    const next: TreeHead = { size, rootHash: tree.rootAt(size) };
    checkConsistent(previous, next, tree);
    const sth = await signTreeHeadWith(this.deps.signer, next);
    if (this.abandoned) return previous;

    let cosignatures: Cosignature[] = [];
    if (this.deps.cosigner !== undefined) {
      const collected = await this.deps.cosigner.cosign(sth, previous);
      if (this.abandoned) return previous;
      if (collected === undefined) {
        this.repeats.report('warning', 'quorum', 'not-met', `tree head of size ${size} not published: witness cosignatures do not satisfy the policy quorum`, { size });
        this.deps.onOutcome?.('quorum_not_met');
        return previous;
      }
      cosignatures = collected;
      this.lastCosignedAt = now;
    }
    const head: CosignedTreeHead = { ...sth, cosignatures };
    if (sameHead(head, previous)) {
      this.deps.onOutcome?.(unchanged);
      return previous;
    }
    this.deps.persist(head); // crash-safe point: durable before anyone can see it
    published.replace(head);
    this.deps.onOutcome?.('published');
    if (size > previous.size) log.debug(`published tree head of size ${size}`, { size, cosignatures: cosignatures.length });
    return head;
  }
}

function checkConsistent(previous: TreeHead, next: TreeHead, tree: RotationTree): void {
  if (next.size === previous.size) {
    if (!bytesEqual(next.rootHash, previous.rootHash)) {
      throw new Error(`local root at size ${next.size} differs from the published root: the tree was altered`);
    }
    return;
  }
  if (previous.size === 0) return;
  const proof = tree.consistencyProof(previous.size, next.size);
  if (!verifyConsistency(previous.size, next.size, previous.rootHash, next.rootHash, proof)) {
    throw new Error(`tree head of size ${next.size} is not consistent with the published one of size ${previous.size}`);
  }
}

function sameHead(a: CosignedTreeHead, b: CosignedTreeHead): boolean {
  return (
    a.size === b.size &&
    bytesEqual(a.signature, b.signature) &&
    a.cosignatures.length === b.cosignatures.length &&
    a.cosignatures.every((c, i) => {
      const d = b.cosignatures[i];
      return d !== undefined && c.timestamp === d.timestamp && bytesEqual(c.signature, d.signature);
    })
  );
}
