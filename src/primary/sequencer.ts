// Sequencing in batches, as Tessera does: accepted leaves wait in a bounded
// pending pool and are appended to the tree in one SQLite transaction per
// batch, either when `batchSize` leaves are waiting or every `batchIntervalMs`.
// A leaf is *sequenced* once its batch committed (durable, see TreeStore).
// Pending leaves are not durable: a crash loses them, which is safe because
// they were only ever answered 202, and the submitter retries.
import { UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Hash } from '../types.js';

/** The part of the tree store the sequencer needs. */
export interface SequencingStore {
  /** Appends leaves not already stored, in one transaction. Durable once it returns. */
  appendLeaves(leaves: readonly Uint8Array[]): number[];
  indexOfLeafHash(hash: Hash): number | undefined;
}

export interface SequencerOptions {
  batchSize: number;
  batchIntervalMs: number;
  maxPending: number;
}

export type Submission =
  /** Already in the tree at this index. */
  | { state: 'sequenced'; index: number }
  /** Waiting in the pool; `isNew` is true for the request that put it there. */
  | { state: 'pending'; isNew: boolean };

export class Sequencer {
  private pending = new Map<string, Uint8Array>();
  private timer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  private failures = 0;

  constructor(
    private readonly store: SequencingStore,
    private readonly opts: SequencerOptions,
    private readonly log: Logger,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Where a leaf is: sequenced at an index, pending, or unknown (undefined). */
  lookup(leafHash: Hash): Submission | undefined {
    const index = this.store.indexOfLeafHash(leafHash);
    if (index !== undefined) return { state: 'sequenced', index };
    if (this.pending.has(Buffer.from(leafHash).toString('latin1'))) return { state: 'pending', isNew: false };
    return undefined;
  }

  /**
   * Looks the leaf up, and queues it if it is new. Throws UnavailableError
   * (503) when the pool is full: pushback instead of unbounded queueing.
   */
  submit(leaf: Uint8Array, leafHash: Hash): Submission {
    return this.lookup(leafHash) ?? this.enqueue(leaf, leafHash);
  }

  /**
   * Queues a leaf unless it is already pending, without looking in the store:
   * for a caller that looked it up recently and found it unknown (add-leaf's
   * hot path). A leaf sequenced in between is not sequenced twice (the store
   * dedups); it is only answered as pending once more.
   */
  enqueue(leaf: Uint8Array, leafHash: Hash): Submission {
    const key = Buffer.from(leafHash).toString('latin1');
    if (this.pending.has(key)) return { state: 'pending', isNew: false };
    if (this.pending.size >= this.opts.maxPending) {
      throw new UnavailableError(`the log is busy: ${this.pending.size} leaves are waiting to be sequenced; retry later`, 1);
    }
    this.pending.set(key, leaf);
    // While appends fail (a full disk), retries are left to the timer rather
    // than attempted again by every submission.
    if (this.pending.size >= this.opts.batchSize && this.failures === 0) this.scheduleFlush();
    return { state: 'pending', isNew: true };
  }

  start(): void {
    const tick = (): void => {
      this.flush();
      this.timer = setTimeout(tick, this.opts.batchIntervalMs);
    };
    this.timer = setTimeout(tick, this.opts.batchIntervalMs);
  }

  /** Stops the timer and sequences whatever is pending. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Appends every pending leaf, batchSize at a time. Returns how many were sequenced. */
  flush(): number {
    let done = 0;
    while (this.pending.size > 0) {
      const keys: string[] = [];
      const leaves: Uint8Array[] = [];
      for (const [k, v] of this.pending) {
        keys.push(k);
        leaves.push(v);
        if (leaves.length >= this.opts.batchSize) break;
      }
      try {
        this.store.appendLeaves(leaves); // crash-safe point: the whole batch or none of it
      } catch (err) {
        // Keep the leaves pending and retry next tick; the pool limit turns a
        // persistent failure (disk full) into 503s instead of lost leaves.
        this.failures++;
        if (this.failures === 1 || this.failures % 100 === 0) {
          this.log.error(`sequencing a batch of ${leaves.length} leaves failed (${this.failures} times): ${(err as Error).message}`);
        }
        return done;
      }
      this.failures = 0;
      for (const k of keys) this.pending.delete(k);
      done += leaves.length;
    }
    return done;
  }
}
