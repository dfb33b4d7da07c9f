// The worker thread of WalCheckpointer (wal-checkpointer.ts, which says why
// and what is safe). It blocks on the shared counter the writer bumps after
// each commit and runs at most one PASSIVE checkpoint per interval while
// commits keep coming, and one every IDLE_CHECK_MS otherwise: other modules
// commit through the same file without telling it (meta, witness state), and
// a checkpoint with nothing to copy costs a few reads of shared memory.
import Database from 'better-sqlite3';
import { workerData } from 'node:worker_threads';
import { CheckpointSlot } from './wal-checkpointer.js';

interface CheckpointerData {
  path: string;
  state: Int32Array;
  intervalMs: number;
}

const { path, state, intervalMs } = workerData as CheckpointerData;
const IDLE_CHECK_MS = 5_000;

function stopping(): boolean {
  return Atomics.load(state, CheckpointSlot.Stop) === 1;
}

function run(): void {
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma('synchronous = FULL'); // fsync the WAL before and the database after each checkpoint
    db.pragma('wal_autocheckpoint = 0');
  } catch {
    Atomics.store(state, CheckpointSlot.Failed, 1);
    return;
  }
  try {
    let seen = Atomics.load(state, CheckpointSlot.Commits);
    let lastRun = 0;
    while (!stopping()) {
      Atomics.wait(state, CheckpointSlot.Commits, seen, IDLE_CHECK_MS); // until a commit (or stop) bumps it
      if (stopping()) break;
      const rest = lastRun + intervalMs - Date.now();
      if (rest > 0) Atomics.wait(state, CheckpointSlot.Stop, 0, rest); // coalesce a stream of commits
      if (stopping()) break;
      seen = Atomics.load(state, CheckpointSlot.Commits);
      try {
        db.pragma('wal_checkpoint(PASSIVE)');
        Atomics.add(state, CheckpointSlot.Checkpoints, 1);
      } catch {
        // A failed checkpoint (disk full, I/O error) loses nothing: the pages
        // stay in the WAL. Try again after the next commit.
      }
      lastRun = Date.now();
    }
  } finally {
    db.close();
  }
}

try {
  run();
} finally {
  Atomics.store(state, CheckpointSlot.Stopped, 1);
  Atomics.notify(state, CheckpointSlot.Stopped);
}
