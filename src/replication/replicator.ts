// The secondary's replication loop body: copy the upstream's sequenced leaves
// into the local tree at exactly the same indices, and advance the *verified*
// head only once the local root at the upstream's size equals the upstream's
// root. The verified head is what this node serves (to the primary's
// replication gate, and to nodes replicating from it); it never covers a leaf
// that is not durably stored here.
//
// On any disagreement with the upstream (a different leaf at an index already
// stored, a different root) replication stops for good in this process: the
// node keeps serving its last verified head and never rewrites a stored leaf.
// The same disagreement is found again after a restart, since nothing changed.
import { ConfigError, UpstreamError } from '../errors.js';
import { verifyTreeHeadSignature } from '../formats/checkpoint.js';
import { formatCosignedTreeHead, parseCosignedTreeHead } from '../formats/messages.js';
import type { CosignedTreeHead, TreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import { etaSeconds, formatProgressLine, RateWindow } from '../cli/progress.js';
import type { Logger } from '../log.js';
import { RepeatFilter } from '../log-repeats.js';
import { emptyRoot } from '../tree/hash.js';
import { TreeDivergenceError } from '../tree/store.js';
import type { Hash, PublicKey } from '../types.js';
import type { ReplicationUpstream } from '../internal-api/client.js';

/** The part of the tree store a replica needs. */
export interface ReplicaStore {
  size(): number;
  rootAt(size: number): Hash;
  /**
   * Stores leaves at [startIndex, startIndex + leaves.length) in one
   * transaction: all or nothing, durable once it returns. Leaves that overlap
   * stored ones must be identical (TreeDivergenceError otherwise); a gap is refused.
   */
  appendPreordered(startIndex: number, leaves: readonly Uint8Array[]): unknown;
  getMeta(key: string): string | undefined;
  /** Durable once it returns. */
  setMeta(key: string, value: string): void;
}

/** Meta key: the size up to which the local tree was checked against the upstream's root. */
export const VERIFIED_SIZE_KEY = 'replicated-verified-size';
/** Meta key: the newest published (log-signed) tree head verified against the local tree. */
export const PUBLISHED_TREE_HEAD_KEY = 'published-tree-head';

export interface ReplicatorOptions {
  store: ReplicaStore;
  upstream: ReplicationUpstream;
  /** Names the upstream in log lines. */
  upstreamName: string;
  log: Logger;
  /** The log's public key ([secondary] log-pubkey-file); enables keeping the published head. */
  logPublicKey?: PublicKey | undefined;
  /** Leaves asked for per get-leaves request; the upstream may answer fewer (its max-range). */
  batchSize?: number;
  /** get-leaves requests kept in flight during a catch-up. */
  maxInFlight?: number;
  /** Received leaves gathered into one transaction during a catch-up. */
  commitSize?: number;
  /** Milliseconds clock, for progress lines during a long catch-up. */
  now?: () => number;
  /**
   * Called as leaves are stored during a catch-up (stored = the next index to
   * store, target = the upstream's size); replaces the periodic log lines.
   */
  onProgress?: (stored: number, target: number) => void;
  /**
   * Reports a divergence instead of the default error line, which gives a
   * secondary's advice (re-pointed at a new primary: truncate or rebuild).
   */
  onDivergence?: (divergence: Divergence) => void;
}

/** Why replication stopped for good: the upstream disagrees with what is stored or verified here. */
export interface Divergence {
  detail: string;
  /** The first index whose leaf differs, when a leaf was compared. */
  index?: number | undefined;
  /** The upstream head whose root differs from the local root at its size, when a root was compared. */
  head?: TreeHead | undefined;
}

/**
 * After a short answer, how many full answers at the lowered request size
 * pass before the full size is asked for again; doubled after each probe that
 * is answered short again (an upstream whose max-range really is lower), up to
 * LAST_PROBE_AFTER, so probing costs a vanishing share of the requests.
 */
const FIRST_PROBE_AFTER = 8;
const LAST_PROBE_AFTER = 1024;

/** How often a long catch-up reports its progress. */
export const PROGRESS_EVERY_MS = 3_000;

export type StepOutcome =
  /** Caught up with (and verified against) the upstream's head. */
  | 'synced'
  /** The upstream could not be asked, or answered nonsense; retried next step. */
  | 'upstream-unavailable'
  /** The upstream reports fewer leaves than were verified here; retried next step. */
  | 'upstream-behind'
  | 'stopped'
  | 'diverged';

export class Replicator {
  private verified: TreeHead;
  private published: CosignedTreeHead | undefined;
  private publishedConfirmedAt: number | undefined;
  /** A log-signed head whose leaves have not all arrived yet. */
  private candidate: CosignedTreeHead | undefined;
  /** Next index to ask for. Starts at the verified size: stored leaves beyond it are re-checked. */
  private cursor: number;
  /** Leaves asked for per request: the configured size, or less after short answers. */
  private batchSize: number;
  private readonly maxBatchSize: number;
  private batchLearned = false;
  /** Full answers since the request size was last lowered; at probeAfter, the full size is tried again. */
  private fullAnswers = 0;
  private probeAfter = FIRST_PROBE_AFTER;
  private probing = false;
  private divergence: Divergence | undefined;
  private stopped = false;
  private readonly maxInFlight: number;
  private readonly commitSize: number;
  private readonly repeats: RepeatFilter;

  constructor(private readonly opts: ReplicatorOptions) {
    const { store } = opts;
    const text = store.getMeta(VERIFIED_SIZE_KEY);
    const size = text === undefined ? 0 : Number(text);
    if (!Number.isSafeInteger(size) || size < 0 || size > store.size()) {
      throw new ConfigError(`the database's ${VERIFIED_SIZE_KEY} "${text}" does not fit its tree of ${store.size()} leaves`);
    }
    this.verified = { size, rootHash: rootAt(store, size) };
    this.cursor = size;
    this.published = loadPublished(store, opts.log);
    this.maxBatchSize = opts.batchSize ?? 8192;
    this.batchSize = this.maxBatchSize;
    this.maxInFlight = opts.maxInFlight ?? 8;
    this.commitSize = opts.commitSize ?? 8192;
    this.repeats = new RepeatFilter(opts.log);
  }

  /** The newest head verified against the upstream: what this node serves as its own. */
  get verifiedHead(): TreeHead {
    return this.verified;
  }

  /**
   * When the upstream last served the published head this node keeps (or a
   * newer one it accepted), ms clock; undefined since start. A read replica
   * whose upstream is gone keeps serving the head; this tells its age.
   */
  get publishedHeadConfirmedAtMs(): number | undefined {
    return this.publishedConfirmedAt;
  }

  /** The newest log-signed head verified against the local tree, if log-pubkey-file is set. */
  get publishedHead(): CosignedTreeHead | undefined {
    return this.published;
  }

  get diverged(): boolean {
    return this.divergence !== undefined;
  }

  /** Why replication stopped for good, once it has. */
  get divergenceInfo(): Divergence | undefined {
    return this.divergence;
  }

  /** Makes a running step return at its next batch boundary, and every later step at once. */
  stop(): void {
    this.stopped = true;
  }

  /** One poll: fetch what is missing, verify, advance. Never throws for upstream trouble. */
  async step(): Promise<StepOutcome> {
    if (this.divergence !== undefined) return 'diverged';
    if (this.stopped) return 'stopped';
    try {
      await this.pollPublishedHead();
      const target = await this.opts.upstream.treeHeadUnsigned();
      if (target.size < this.verified.size) {
        this.repeats.report(
          'warning',
          'upstream',
          'behind',
          `upstream ${this.opts.upstreamName} reports ${target.size} leaves, fewer than the ${this.verified.size} already verified here; not replicating until it catches up`,
        );
        return 'upstream-behind';
      }
      if (!(await this.fetchUpTo(target.size))) return 'stopped';
      this.verifyAgainst(target);
      if (this.divergence !== undefined) return 'diverged';
      this.acceptCandidate();
      if (this.divergence !== undefined) return 'diverged';
      if (this.repeats.clear('upstream')) this.opts.log.info(`upstream ${this.opts.upstreamName} answers again; replicated size ${this.verified.size}`, { upstream: this.opts.upstreamName, size: this.verified.size });
      return 'synced';
    } catch (err) {
      if (err instanceof TreeDivergenceError) {
        this.diverge({ detail: `the upstream's leaf at index ${err.index} differs from the one stored here`, index: err.index });
        return 'diverged';
      }
      if (err instanceof UpstreamError) {
        if (this.stopped) return 'stopped'; // requests aborted by the shutdown
        this.repeats.report('warning', 'upstream', 'unavailable', `cannot replicate from ${this.opts.upstreamName} (retrying every poll): ${err.message}`, {
          upstream: this.opts.upstreamName,
        });
        return 'upstream-unavailable';
      }
      throw err;
    }
  }

  /**
   * Appends the upstream's leaves [cursor, target): up to maxInFlight
   * get-leaves requests outstanding, answers applied strictly in index order,
   * and consecutive answers gathered into one transaction of up to
   * commitSize leaves (a commit costs an fsync). Returns false when stopped midway.
   */
  private async fetchUpTo(target: number): Promise<boolean> {
    const { upstream, store } = this.opts;
    interface Pending {
      start: number;
      end: number;
      answer: Promise<Uint8Array[]>;
      /** Asked for the full size again after short answers. */
      probe: boolean;
    }
    const inFlight: Pending[] = [];
    let issueAt = this.cursor;
    const issue = (): void => {
      // One request at a time until the upstream's max-range is known (and
      // while probing for a larger one), so that clamped answers do not leave
      // gaps between pipelined requests.
      const limit = this.batchLearned ? this.maxInFlight : 1;
      while (inFlight.length < limit && issueAt < target) {
        const end = Math.min(issueAt + this.batchSize, target);
        const answer = upstream.leaves(issueAt, end);
        answer.catch(() => undefined); // a discarded request must not be an unhandled rejection
        inFlight.push({ start: issueAt, end, answer, probe: this.probing });
        issueAt = end;
      }
    };
    // Received, not yet stored: leaves [this.cursor, this.cursor + received.length).
    let received: Uint8Array[] = [];
    const commit = (): void => {
      if (received.length === 0) return;
      store.appendPreordered(this.cursor, received); // crash-safe point: the batch is durable, or absent
      this.cursor += received.length;
      received = [];
    };
    const progress = this.opts.onProgress === undefined ? this.progressReporter(target) : () => this.opts.onProgress?.(this.cursor, target);
    issue();
    while (inFlight.length > 0) {
      if (this.stopped) return false;
      const next = inFlight.shift() as Pending;
      const leaves = await next.answer;
      if (leaves.length === 0) {
        throw new UpstreamError(`${this.opts.upstreamName} answered "at end of tree" for index ${next.start} after reporting ${target} leaves`);
      }
      for (const leaf of leaves) received.push(leaf);
      this.learnFromAnswer(next, leaves.length);
      if (leaves.length < next.end - next.start) {
        // Re-issue everything after this answer from where it ended.
        inFlight.length = 0;
        issueAt = next.start + leaves.length;
      }
      issue(); // keep requests in flight while the commit below blocks
      if (received.length >= this.commitSize || inFlight.length === 0) commit();
      progress(this.cursor + received.length);
    }
    return true;
  }

  /**
   * Adapts the request size to an answer. A short answer (the upstream's
   * max-range, or any short answer, which the protocol allows) lowers it to
   * that length, so that pipelined requests leave no gaps. A short answer may
   * also be a passing one, so after probeAfter full answers the full size is
   * asked for again, in a request of its own; a probe answered short doubles
   * probeAfter (the upstream's max-range really is lower), one answered in
   * full restores the full size.
   */
  private learnFromAnswer(request: { start: number; end: number; probe: boolean }, received: number): void {
    const short = received < request.end - request.start;
    if (request.probe) {
      this.probing = false;
      this.probeAfter = short ? Math.min(2 * this.probeAfter, LAST_PROBE_AFTER) : FIRST_PROBE_AFTER;
    }
    if (short) {
      this.probing = false;
      this.batchSize = received;
      this.fullAnswers = 0;
      this.batchLearned = true;
    } else if (!this.probing && this.batchSize < this.maxBatchSize && ++this.fullAnswers >= this.probeAfter) {
      this.batchSize = this.maxBatchSize;
      this.fullAnswers = 0;
      this.probing = true;
      this.batchLearned = false; // the probe goes alone: no request in flight depends on its length
    } else if (!this.probing) {
      this.batchLearned = true;
    }
  }

  /**
   * A function that logs catch-up progress (received/target, leaves/s over the
   * last seconds, ETA) at most every PROGRESS_EVERY_MS; the first line comes
   * only when the catch-up has lasted that long, so ordinary polls log nothing.
   */
  private progressReporter(target: number): (received: number) => void {
    const now = this.opts.now ?? Date.now;
    const began = now();
    const rates = new RateWindow();
    rates.add(began, this.cursor);
    let reportAt = began + PROGRESS_EVERY_MS;
    return (received) => {
      const t = now();
      const rate = rates.add(t, received);
      if (t < reportAt) return;
      reportAt = t + PROGRESS_EVERY_MS;
      const snapshot = { done: received, total: target, elapsedMs: t - began, ratePerSecond: rate };
      const eta = etaSeconds(snapshot);
      this.opts.log.info(formatProgressLine(`catching up with ${this.opts.upstreamName}`, 'leaves', snapshot), {
        upstream: this.opts.upstreamName,
        size: received,
        stored: this.cursor,
        target,
        leaves_per_second: Math.round(rate),
        eta_seconds: eta === undefined ? undefined : Math.round(eta),
      });
    };
  }

  private verifyAgainst(target: TreeHead): void {
    const local = rootAt(this.opts.store, target.size);
    if (!bytesEqual(local, target.rootHash)) {
      this.diverge({
        detail: `the local root at size ${target.size} is ${toHex(local)} but the upstream's is ${toHex(target.rootHash)}`,
        head: target,
      });
      return;
    }
    if (target.size === this.verified.size) return;
    this.opts.store.setMeta(VERIFIED_SIZE_KEY, String(target.size)); // crash-safe point: durable before it is served
    this.verified = { size: target.size, rootHash: local };
  }

  private async pollPublishedHead(): Promise<void> {
    const key = this.opts.logPublicKey;
    if (key === undefined) return;
    let head: CosignedTreeHead | undefined;
    try {
      head = await this.opts.upstream.publishedTreeHead();
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      this.repeats.report('warning', 'published', 'unavailable', `cannot fetch the published tree head from ${this.opts.upstreamName}: ${err.message}`);
      return;
    }
    if (head === undefined) return;
    if (!verifyTreeHeadSignature(key, head)) {
      this.repeats.report(
        'warning',
        'published',
        'signature',
        `the published tree head from ${this.opts.upstreamName} (size ${head.size}) does not verify with log-pubkey-file; ignored`,
      );
      return;
    }
    this.repeats.clear('published');
    const newest = this.candidate ?? this.published;
    if (newest !== undefined && head.size < newest.size) return; // never go back to an older head
    this.candidate = head;
  }

  /** Keeps the candidate published head once the local tree holds its leaves and agrees with its root. */
  private acceptCandidate(): void {
    const head = this.candidate;
    if (head === undefined || head.size > this.verified.size) return;
    this.candidate = undefined;
    const local = rootAt(this.opts.store, head.size);
    if (!bytesEqual(local, head.rootHash)) {
      this.diverge({
        detail: `the log signed a tree head of size ${head.size} with root ${toHex(head.rootHash)}, but the local root at that size is ${toHex(local)}`,
        head,
      });
      return;
    }
    this.publishedConfirmedAt = (this.opts.now ?? Date.now)();
    const text = formatCosignedTreeHead(head);
    if (this.published !== undefined && formatCosignedTreeHead(this.published) === text) return;
    this.opts.store.setMeta(PUBLISHED_TREE_HEAD_KEY, text); // crash-safe point: durable before it is served
    this.published = head;
  }

  private diverge(divergence: Divergence): void {
    this.divergence = divergence;
    if (this.opts.onDivergence !== undefined) {
      this.opts.onDivergence(divergence);
      return;
    }
    this.opts.log.error(
      `primary and secondary have diverged (upstream ${this.opts.upstreamName}): ${divergence.detail}. ` +
        `Replication stopped; still serving the last verified tree head (size ${this.verified.size}); no stored leaf was changed. ` +
        this.recoveryHint(divergence.index),
    );
  }

  /** What an operator can do. The common case: this node was re-pointed at a newly promoted primary. */
  private recoveryHint(firstDifference: number | undefined): string {
    const published = this.published?.size;
    if (published === undefined) {
      return 'An operator must find out which node holds the log\'s tree before restarting. If the upstream is a newly promoted primary, ' +
        'this node holds leaves the old primary never published; without a verified published tree head (log-pubkey-file) it cannot tell ' +
        'which, so rebuild it from an empty database.';
    }
    if (firstDifference !== undefined && firstDifference < published) {
      return `The upstream differs below the published tree head this node verified (size ${published}): it does not serve this log's published tree. ` +
        'Do not truncate; find out which node the upstream is.';
    }
    return 'If the upstream is a newly promoted primary, this node holds leaves the old primary sequenced but never published: stop it, run ' +
      `\`sigsum-log secondary-truncate --config <this node's config> --to-size ${firstDifference ?? published}\` (it never goes below the ` +
      `published size ${published}), and start it again. Otherwise an operator must find out which node holds the log's tree before restarting.`;
  }
}

function rootAt(store: ReplicaStore, size: number): Hash {
  return size === 0 ? emptyRoot() : store.rootAt(size);
}

function loadPublished(store: ReplicaStore, log: Logger): CosignedTreeHead | undefined {
  const text = store.getMeta(PUBLISHED_TREE_HEAD_KEY);
  if (text === undefined) return undefined;
  try {
    return parseCosignedTreeHead(text);
  } catch (err) {
    log.warning(`ignoring the stored published tree head: ${(err as Error).message}`);
    return undefined;
  }
}
