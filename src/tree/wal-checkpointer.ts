// WAL checkpoints on a worker thread, off the writer's thread.
//
// Why: with SQLite's automatic checkpoint, the commit that pushes the WAL past
// 1,000 pages also copies every page of the WAL into the database file and
// fsyncs it, on the writer's thread. At 10M leaves those pages are scattered
// (the dedup index's levels), and that batch waits tens of milliseconds on
// the disk: the slowest batches, and most of the wall time an append spends
// not computing. Here a worker thread with its own connection runs PASSIVE
// checkpoints while the writer goes on; the writer's COMMIT only appends to
// the WAL and fsyncs it.
//
// Durability is unchanged: a transaction is durable when its COMMIT has
// fsync'd the WAL (synchronous=FULL on the writer); a checkpoint only moves
// committed pages into the database file, and the worker's connection uses
// synchronous=FULL too, so it fsyncs the WAL before and the database after.
// A crash or kill -9 at any point leaves a WAL that SQLite replays on open.
//
// The worker must not change what the writer sees as "another connection
// committed" (TreeStore's sole-writer check, PRAGMA data_version): a PASSIVE
// checkpoint only advances the backfill mark, never the WAL header, so it
// does not. A RESTART or TRUNCATE checkpoint would rewrite the header, so the
// worker never runs one. The WAL restarts (is reused from its start) when the
// writer begins a transaction and every frame has been backfilled; under
// back-to-back appends the worker may never catch up exactly. So the writer
// sets journal_size_limit to the bound (SQLite then truncates the WAL file to
// it at the first commit after a restart) and, when the file has grown past
// it, checkpoints the small remainder itself (walBeyondBound): the WAL holds
// at most the bound plus what the commits since then wrote.
//
// Signalling is through a SharedArrayBuffer: the writer bumps a counter after
// each commit (a few ns, no message), the worker sleeps on it with
// Atomics.wait. The worker never returns to its event loop until told to stop.
import { Worker } from 'node:worker_threads';

/** Slots of the shared Int32Array (the worker reads the same numbers). */
export const CheckpointSlot = {
  /** Bumped by the writer after each commit. */
  Commits: 0,
  /** 1: the worker should close its connection and exit. */
  Stop: 1,
  /** 1 once the worker has closed its connection (or failed to open it). */
  Stopped: 2,
  /** Checkpoints the worker has run (for tests and the bench). */
  Checkpoints: 3,
  /** 1 if the worker failed; the writer then checkpoints itself again. */
  Failed: 4,
  Count: 5,
} as const;

/** Minimum time between two checkpoints while commits keep coming (one fsync of the database each). */
export const CHECKPOINT_INTERVAL_MS = 50;
/** Default bound on the WAL file, above which the writer checkpoints the remainder itself, so the WAL restarts. */
export const WAL_BOUND_BYTES = 64 * 2 ** 20;
/**
 * How long stop() waits for the worker to finish a checkpoint in progress and
 * close its connection. Waiting only buys a tidy close (the writer's close is
 * then the last and removes the WAL); past it nothing is lost, the next open
 * finds a WAL as after a crash. Short, because the waiting thread (a node's
 * event loop, while it shuts down) does nothing else meanwhile.
 */
const STOP_TIMEOUT_MS = 5_000;

export class WalCheckpointer {
  private readonly state = new Int32Array(new SharedArrayBuffer(CheckpointSlot.Count * 4));
  private readonly worker: Worker;
  private stopped = false;

  /** Starts the worker on the database at path; the writer turns its own automatic checkpoint off. */
  constructor(path: string) {
    this.worker = new Worker(new URL('./wal-checkpoint-worker.js', import.meta.url), {
      workerData: { path, state: this.state, intervalMs: CHECKPOINT_INTERVAL_MS },
    });
    this.worker.unref(); // never keeps the process alive
    const failed = (): void => {
      Atomics.store(this.state, CheckpointSlot.Failed, 1);
      Atomics.store(this.state, CheckpointSlot.Stopped, 1);
    };
    this.worker.on('error', failed);
    this.worker.on('exit', failed);
  }

  /** After each commit of the writer. */
  committed(): void {
    Atomics.add(this.state, CheckpointSlot.Commits, 1);
    Atomics.notify(this.state, CheckpointSlot.Commits);
  }

  /** True once the worker has died: the writer's automatic checkpoint should come back. */
  failed(): boolean {
    return Atomics.load(this.state, CheckpointSlot.Failed) === 1;
  }

  checkpoints(): number {
    return Atomics.load(this.state, CheckpointSlot.Checkpoints);
  }

  /**
   * Stops the worker and waits (blocking, bounded) until it has closed its
   * connection, so that the writer's close is the last one and SQLite's final
   * checkpoint removes the WAL as before.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.state, CheckpointSlot.Stop, 1);
    Atomics.notify(this.state, CheckpointSlot.Commits); // the worker waits for a commit…
    Atomics.notify(this.state, CheckpointSlot.Stop); // …or sleeps out its interval on this slot
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (Atomics.load(this.state, CheckpointSlot.Stopped) === 0 && Date.now() < deadline) {
      Atomics.wait(this.state, CheckpointSlot.Stopped, 0, 50);
    }
    void this.worker.terminate();
  }
}
