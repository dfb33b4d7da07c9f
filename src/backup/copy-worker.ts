// The backup worker thread (see runCopyWorker in backup.ts): copySnapshot on
// its own SQLite connection, reporting progress and the result or error to
// the thread that started it. Its pauses (Atomics.wait) block only this
// thread.
import { parentPort, workerData } from 'node:worker_threads';
import { copySnapshot, type CopyMessage, type CopyRequest } from './backup.js';

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
