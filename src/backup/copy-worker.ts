// The backup worker thread (see runCopyWorker in backup.ts): copySnapshot on
// its own SQLite connection, reporting progress and the result or error to
// the thread that started it. Its pauses (Atomics.wait) block only this
// thread.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { copySnapshot, type CopyMessage, type CopyRequest } from './backup.js';

// A backup is background work: this thread runs at a lower priority (nice
// +10) than the node's main thread (0) and its verify pool (+5), so that
// what CPU the paced copy and hashing take comes from idle time first.
// Linux names one thread by its id; elsewhere, or if not allowed, the
// process's priority stays.
const NICE_INCREMENT = 10;
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  setPriority(tid, Math.min(19, getPriority(tid) + NICE_INCREMENT));
} catch {
  // run at the process's priority
}

const port = parentPort;
if (port === null) throw new Error('copy-worker.js runs only as a worker thread');
const post = (m: CopyMessage): void => port.postMessage(m);
try {
  const result = await copySnapshot(workerData as CopyRequest, (done, total) => post({ type: 'progress', done, total }));
  post({ type: 'done', result });
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  const m: CopyMessage = { type: 'error', name: e.name, message: e.message };
  if ('path' in e && typeof e.path === 'string') m.path = e.path;
  if ('reason' in e && typeof e.reason === 'string') m.reason = e.reason;
  post(m);
}
