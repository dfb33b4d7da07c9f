// Sequencing in batches, as Tessera does: accepted leaves wait in a bounded
// pending pool and are appended to the tree in one SQLite transaction per
// batch, either when `batchSize` leaves are waiting or every `batchIntervalMs`.
// A leaf is *sequenced* once its batch committed (durable, see TreeStore).
// Pending leaves are not durable: a crash loses them, which is safe because
// they were only ever answered 202, and the submitter retries.
import { UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { isDiskFull } from '../storage/disk-full.js';
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

/** While appends fail, they are retried this often (not at every batch-interval tick). */
const RETRY_AFTER_FAILURE_MS = 1_000;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Sequencer {
  private pending = new Map<string, Uint8Array>();
  private timer: NodeJS.Timeout | undefined;
  private drainScheduled = false;
  private draining: Promise<void> | undefined;
  private failures = 0;
  /** Why the last append failed, while appends fail; undefined when they succeed. */
  private failure: string | undefined;
  private retryAt = 0;
  /** Batches committed, leaves they held (duplicates skipped by the store included), and add-leafs refused for a full pool; for /metrics. */
  batches = 0;
  sequencedLeaves = 0;
  pushbacks = 0;

  constructor(
    private readonly store: SequencingStore,
    private readonly opts: SequencerOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
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
   * (503) when the pool is full or appends are failing.
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
    if (this.failure !== undefined) {
      // Appends fail (a full disk): a new leaf could only wait in memory, and
      // the submitter would take the 202 for progress. The leaves already
      // pending stay pending and are sequenced once appends work again.
      throw new UnavailableError(`the log cannot store new leaves right now (${this.failure}); retry later`, Math.ceil(RETRY_AFTER_FAILURE_MS / 1000));
    }
    if (this.pending.size >= this.opts.maxPending) {
      this.pushbacks++;
      throw new UnavailableError(`the log is busy: ${this.pending.size} leaves are waiting to be sequenced; retry later`, 1);
    }
    this.pending.set(key, leaf);
    if (this.pending.size >= this.opts.batchSize) this.scheduleDrain();
    return { state: 'pending', isNew: true };
  }

  start(): void {
    const tick = (): void => {
      if (this.pending.size > 0 && (this.failure === undefined || this.now() >= this.retryAt)) this.scheduleDrain();
      this.timer = setTimeout(tick, this.opts.batchIntervalMs);
    };
    this.timer = setTimeout(tick, this.opts.batchIntervalMs);
  }

  /**
   * Stops the timer and sequences whatever is pending (slice by slice,
   * yielding between slices); resolves when done, or when an append failed
   * (those leaves were only ever answered 202).
   */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.drain();
  }

  /** Sequences every pending leaf now, synchronously, batchSize at a time. Returns how many were sequenced. */
  flush(): number {
    let done = 0;
    for (let n = this.sequenceSlice(); n > 0; n = this.sequenceSlice()) done += n;
    return done;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.draining !== undefined) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      void this.drain();
    });
  }

  /**
   * Sequences the pending pool one slice (one transaction of at most
   * batchSize leaves) at a time, and yields to the event loop between slices:
   * after a stall (a full disk freed, a slow disk) the backlog can be
   * max-pending leaves, and sequencing it in one go would keep HTTP answers
   * and timers (rotation, shutdown) waiting until the last slice committed.
   */
  private drain(): Promise<void> {
    if (this.draining !== undefined) return this.draining;
    const run = async (): Promise<void> => {
      while (this.sequenceSlice() > 0 && this.pending.size > 0) await yieldToEventLoop();
    };
    // Cleared once settled (the run may finish without awaiting at all).
    const running = run().finally(() => {
      if (this.draining === running) this.draining = undefined;
    });
    this.draining = running;
    return running;
  }

  /** Appends up to batchSize pending leaves in one transaction. Returns how many, 0 on failure. */
  private sequenceSlice(): number {
    if (this.pending.size === 0) return 0;
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
      // Keep the leaves pending and retry later; new leaves get 503 meanwhile,
      // so a persistent failure (a full disk) loses nothing answered 200 and
      // piles up nothing unbounded.
      this.failures++;
      this.failure = isDiskFull(err) ? 'its disk is full' : 'storing leaves fails';
      this.retryAt = this.now() + RETRY_AFTER_FAILURE_MS;
      if (this.failures === 1 || this.failures % 100 === 0) {
        this.log.error(`sequencing a batch of ${leaves.length} leaves failed (${this.failures} times; new leaves get 503 until it works): ${(err as Error).message}`, {
          leaves: leaves.length,
          disk_full: isDiskFull(err),
        });
      }
      return 0;
    }
    this.batches++;
    this.sequencedLeaves += leaves.length;
    if (this.failure !== undefined) {
      this.log.info(`sequencing works again after ${this.failures} failed attempts; ${this.pending.size} leaves were waiting`, { pending: this.pending.size });
    }
    this.failures = 0;
    this.failure = undefined;
    for (const k of keys) this.pending.delete(k);
    return leaves.length;
  }
}
