// A log's public v1 API as a replication upstream, for `sigsum-log import`:
// the only head it offers is the published one (get-tree-head), so that is
// both the Replicator's target and its published head, and it is accepted
// only with the log's signature. The public get-leaves serves exactly the
// same leaf lines as the internal one, clamped to the log's max-range.
import { UpstreamError } from '../errors.js';
import { verifyTreeHeadSignature } from '../formats/checkpoint.js';
import type { CosignedTreeHead, TreeHead } from '../formats/tree-head.js';
import type { ReplicationUpstream } from '../internal-api/client.js';
import { verifyConsistency } from '../tree/verify.js';
import type { Hash, PublicKey } from '../types.js';

/** The public endpoints import needs (InternalApiClient pointed at a public URL provides them). */
export interface PublicLogApi {
  publishedTreeHead(): Promise<CosignedTreeHead | undefined>;
  leaves(start: number, end: number): Promise<Uint8Array[]>;
  consistencyProof(oldSize: number, newSize: number): Promise<Hash[]>;
}

/** The source offers a tree head the log's key did not sign: not this log, or a forgery. */
export class UnsignedSourceHeadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsignedSourceHeadError';
  }
}

export class PublicLogSource implements ReplicationUpstream {
  /** The head fetched by the last publishedTreeHead(), handed out once as the target. */
  private fetched: CosignedTreeHead | undefined;

  constructor(
    private readonly api: PublicLogApi,
    private readonly logKey: PublicKey,
    private readonly name: string,
  ) {}

  async publishedTreeHead(): Promise<CosignedTreeHead | undefined> {
    this.fetched = undefined;
    const head = await this.api.publishedTreeHead();
    if (head === undefined) return undefined;
    if (!verifyTreeHeadSignature(this.logKey, head)) {
      throw new UnsignedSourceHeadError(
        `the tree head of size ${head.size} from ${this.name} is not signed by the log's key (log-pubkey-file): not this log's source`,
      );
    }
    this.fetched = head;
    return head;
  }

  /**
   * The target of a replication step: the head the same step just fetched
   * and verified (so target and published head are the same tree), or a
   * fresh one.
   */
  async treeHeadUnsigned(): Promise<TreeHead> {
    const head = this.fetched ?? (await this.publishedTreeHead());
    this.fetched = undefined;
    if (head === undefined) throw new UpstreamError(`${this.name} has no published tree head yet`);
    return head;
  }

  leaves(start: number, end: number): Promise<Uint8Array[]> {
    return this.api.leaves(start, end);
  }
}

export type DifferenceLocation =
  /** Leaves [0, index) are in the signed tree; the leaf stored at `index` is not (index ≥ the verified size). */
  | { kind: 'leaf'; index: number }
  /**
   * The signed head does not extend the head verified earlier: the source
   * rewrote history; `index` (below verifiedSize) is the first leaf its
   * signed tree does not contain.
   */
  | { kind: 'history'; verifiedSize: number; index: number }
  /** The source would not give the proofs needed to tell. */
  | { kind: 'unknown'; reason: string };

/**
 * Finds the first stored leaf that is not in the tree `target` signs, by
 * bisection over consistency proofs from the source: the first n leaves here
 * are the signed tree's first n exactly when a consistency proof from the
 * local root at n to the signed root verifies. The signed root is the
 * authority (a source cannot make a wrong prefix verify); a source that
 * answers wrong proofs can only move the index it is blamed for earlier.
 * About log2(size) requests.
 */
export async function locateDifference(opts: {
  verifiedSize: number;
  target: TreeHead;
  localRoot: (size: number) => Hash;
  proof: (oldSize: number, newSize: number) => Promise<Hash[]>;
}): Promise<DifferenceLocation> {
  const { target } = opts;
  const confirms = async (size: number): Promise<boolean> => {
    if (size === 0) return true;
    if (size === target.size) return false; // the root comparison that failed
    const path = await opts.proof(size, target.size);
    return verifyConsistency(size, target.size, opts.localRoot(size), target.rootHash, path);
  };
  try {
    const verified = Math.min(opts.verifiedSize, target.size);
    let good = 0;
    let bad = target.size;
    let history = false;
    if (verified > 0) {
      if (await confirms(verified)) good = verified;
      else {
        bad = verified;
        history = true;
      }
    }
    while (bad - good > 1) {
      const mid = good + Math.floor((bad - good) / 2);
      if (await confirms(mid)) good = mid;
      else bad = mid;
    }
    return history ? { kind: 'history', verifiedSize: verified, index: bad - 1 } : { kind: 'leaf', index: bad - 1 };
  } catch (err) {
    if (err instanceof UpstreamError) return { kind: 'unknown', reason: err.message };
    throw err;
  }
}
