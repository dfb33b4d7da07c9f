// The primary's add-leaf: admission (signature, submit token, rate limit)
// and sequencing. Reads are shared with read replicas (src/public-api/reads.ts).
import { keyHash, sha256 } from '../crypto/index.js';
import { ForbiddenError, FrozenError } from '../errors.js';
import { encodeTreeLeaf, leafSigningMessage } from '../formats/leaf.js';
import type { AddLeafRequest } from '../formats/messages.js';
import type { LeafSubmitter } from '../public-api/app.js';
import { leafHash } from '../tree/hash.js';
import type { Hash, PublicKey, Signature } from '../types.js';
import type { PublishedHead } from './published-head.js';
import type { Sequencer, Submission } from './sequencer.js';
import type { VerificationSlots } from './verification-slots.js';

/** Rate limiting and submit tokens, as add-leaf needs them. */
export interface SubmissionLimiter {
  /**
   * Verifies the submit token (400 malformed, 403 not verified, 503 DNS
   * failure) and charges one leaf to the submitter (429 over the limit).
   * The caller refunds the charge when the leaf turns out not to be new.
   */
  admit(submitterKeyHash: Hash, tokenHeader: string | undefined): Promise<{ refund(): void }>;
}

/**
 * Ed25519 verification as add-leaf needs it (off the main thread in
 * production). May reject with UnavailableError (503) while shutting down.
 */
export type SignatureVerifier = (publicKey: PublicKey, message: Uint8Array, signature: Signature) => Promise<boolean>;

export interface PrimaryLogOptions {
  /**
   * Lifecycle state frozen: a leaf already in the tree is answered as usual,
   * any other add-leaf with FrozenError, before its signature is checked.
   */
  readonly frozen?: boolean;
}

/** The primary's add-leaf; the reads are the shared ones (src/public-api/reads.ts). */
export class PrimaryLog implements LeafSubmitter {
  private readonly frozen: boolean;
  /**
   * New leaves being admitted (signature, token, rate limit), by leaf hash:
   * a copy of one arriving meanwhile shares its outcome instead of being
   * verified and charged again.
   */
  private readonly admitting = new Map<string, Promise<boolean>>();

  constructor(
    private readonly verify: SignatureVerifier,
    private readonly sequencer: Sequencer,
    private readonly published: PublishedHead,
    private readonly limiter: SubmissionLimiter | undefined,
    private readonly slots: VerificationSlots,
    options: PrimaryLogOptions = {},
  ) {
    this.frozen = options.frozen === true;
  }

  // Order: a known leaf (pending or sequenced) is answered at once: it was
  // verified when first accepted, and its leaf hash binds the checksum, the
  // signature and the key hash, so the request is the one verified then
  // (sigsum-submit repeats add-leaf every 2 s until 200, so this halves the
  // CPU of typical traffic). A known leaf is not charged (only the first
  // request per new leaf counts). A copy of a leaf that another request is
  // admitting waits for that one's outcome. Then a verification slot for the
  // client (503 without one), the signature check (a bad request uses no
  // quota and no DNS lookup), then token and rate limit.
  async addLeaf(request: AddLeafRequest, tokenHeader: string | undefined, client: string): Promise<boolean> {
    const submitterKeyHash = keyHash(request.publicKey);
    const checksum = sha256(request.message);
    const leaf = encodeTreeLeaf({ checksum, signature: request.signature, keyHash: submitterKeyHash });
    const hash = leafHash(leaf);
    const known = this.sequencer.lookup(hash);
    if (known !== undefined) return this.isPublished(known);
    if (this.frozen) throw new FrozenError('the log is frozen: it accepts no new leaves; submit to another log');
    const id = Buffer.from(hash).toString('latin1');
    const first = this.admitting.get(id);
    if (first !== undefined) return first;
    const outcome = this.admitNew(request, checksum, submitterKeyHash, leaf, hash, tokenHeader, client);
    this.admitting.set(id, outcome);
    try {
      return await outcome;
    } finally {
      this.admitting.delete(id);
    }
  }

  private async admitNew(
    request: AddLeafRequest,
    checksum: Hash,
    submitterKeyHash: Hash,
    leaf: Uint8Array,
    hash: Hash,
    tokenHeader: string | undefined,
    client: string,
  ): Promise<boolean> {
    this.slots.acquire(client);
    let admission;
    try {
      if (!(await this.verify(request.publicKey, leafSigningMessage(checksum), request.signature))) {
        throw new ForbiddenError('leaf signature does not verify with public_key over the checksum of message');
      }
      admission = this.limiter === undefined ? undefined : await this.limiter.admit(submitterKeyHash, tokenHeader);
    } finally {
      this.slots.release(client);
    }
    let result;
    try {
      // Nobody else queued this leaf during the awaits (copies wait for this
      // request), and the store never sequences a leaf twice, so checking
      // the pending pool is enough: no second lookup in the store.
      result = this.sequencer.enqueue(leaf, hash);
    } catch (err) {
      admission?.refund();
      throw err;
    }
    if (result.state === 'pending' && !result.isNew) admission?.refund();
    return this.isPublished(result);
  }

  private isPublished(where: Submission): boolean {
    return where.state === 'sequenced' && where.index < this.published.size;
  }
}
