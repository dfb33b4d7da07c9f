// Ed25519 verification on worker threads, batched. add-leaf verifies one
// signature per request; doing that on the main thread caps throughput at one
// core, and node:crypto's callback form still spends most of a verify's cost
// on the calling thread. Requests are queued and handed over in batches of up
// to MAX_BATCH (one message each, a few µs) to the least-loaded worker that
// holds fewer than MAX_BATCHES_PER_WORKER batches.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UnavailableError } from '../errors.js';
import type { PublicKey, Signature } from '../types.js';

interface Pending {
  publicKey: PublicKey;
  message: Uint8Array;
  signature: Signature;
  resolve(ok: boolean): void;
  reject(err: Error): void;
}

interface PoolWorker {
  worker: Worker;
  inFlight: number;
  batches: Map<number, Pending[]>;
}

// Worker body, run from a data: URL so that the pool needs no separate file.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
// Lower this thread's priority (Linux: a thread id names one thread).
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  const os = require('node:os');
  os.setPriority(tid, Math.min(19, os.getPriority(tid) + workerData.niceIncrement));
} catch {
  // Not Linux, or not allowed: run at the process's priority.
}
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
parentPort.on('message', (data) => {
  const buf = Buffer.from(data);
  const id = buf.readUInt32BE(0);
  const count = buf.readUInt32BE(4);
  const reply = new Uint8Array(4 + count);
  new DataView(reply.buffer).setUint32(0, id);
  const results = reply.subarray(4);
  let off = 8;
  for (let i = 0; i < count; i++) {
    const msgLen = buf.readUInt32BE(off); off += 4;
    const pub = buf.subarray(off, off + 32); off += 32;
    const sig = buf.subarray(off, off + 64); off += 64;
    const msg = buf.subarray(off, off + msgLen); off += msgLen;
    const id = pub.toString('latin1');
    let key = keys.get(id);
    try {
      if (key === undefined) {
        key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
        if (keys.size >= 4096) keys.clear();
        keys.set(id, key);
      }
      results[i] = verify(null, msg, key, sig) ? 1 : 0;
    } catch {
      results[i] = 0;
    }
  }
  parentPort.postMessage(reply.buffer, [reply.buffer]);
});
`;

// Measured with `npm run bench` (add-leaf, 64 clients, 2 cores): a worker
// that must wait for the main thread to hand it its next batch sits idle
// whenever the main thread is busy answering, so each worker holds several
// small batches at once. Small batches also keep results flowing back
// steadily instead of in bursts that stall the main thread. One batch per
// idle worker measured about 15% fewer leaves/s than 4 batches of up to 8.
const MAX_BATCH = 8;
const MAX_BATCHES_PER_WORKER = 4;

// The workers run at a lower priority (nice +5) than the main thread. With
// more busy threads than cores, the main thread otherwise waits for a
// worker's time slice to end before it can read requests and hand out work;
// meanwhile the load stalls. Measured: about 8% more add-leaf/s on 2 cores.
// The workers still get every cycle the main thread leaves.
const WORKER_NICE_INCREMENT = 5;

function shuttingDown(): UnavailableError {
  return new UnavailableError('the log is shutting down; retry later');
}

export class VerifyPool {
  private readonly workers: PoolWorker[] = [];
  private queue: Pending[] = [];
  private scheduled = false;
  private nextBatchId = 0;

  private closing = false;

  constructor(size = Math.max(1, availableParallelism())) {
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  private spawn(): PoolWorker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { niceIncrement: WORKER_NICE_INCREMENT } });
    worker.unref(); // never keeps the process alive
    const entry: PoolWorker = { worker, inFlight: 0, batches: new Map() };
    // Messages are bare transferred ArrayBuffers (id and count in a small
    // header): cheaper than structured-cloning an object per batch.
    worker.on('message', (reply: ArrayBuffer) => {
      const id = new DataView(reply).getUint32(0);
      const results = new Uint8Array(reply, 4);
      const batch = entry.batches.get(id);
      if (batch === undefined) return;
      entry.batches.delete(id);
      entry.inFlight -= batch.length;
      batch.forEach((p, j) => p.resolve(results[j] === 1));
      this.dispatch();
    });
    // A worker that dies (error or exit) is replaced, and its requests are
    // verified again by the others: never answered "does not verify" for a
    // signature nobody checked, never left hanging.
    let gone = false;
    const replace = (): void => {
      if (gone) return;
      gone = true;
      const orphaned = [...entry.batches.values()].flat();
      entry.batches.clear();
      if (this.closing) {
        orphaned.forEach((p) => p.reject(shuttingDown()));
        return;
      }
      this.workers[this.workers.indexOf(entry)] = this.spawn();
      this.queue.unshift(...orphaned);
      this.dispatch();
    };
    worker.on('error', replace);
    worker.on('exit', replace);
    return entry;
  }

  /** Requests not yet answered: waiting for a worker, or held by one. Read by /metrics, not on the request path. */
  get depth(): number {
    return this.queue.length + this.workers.reduce((n, w) => n + w.inFlight, 0);
  }

  /**
   * Resolves true iff the signature verifies. Rejects only with
   * UnavailableError (503), for a request the pool had not answered when it
   * was closed: nobody checked that signature, so neither answer is true.
   */
  verify(publicKey: PublicKey, message: Uint8Array, signature: Signature): Promise<boolean> {
    if (this.closing) return Promise.reject(shuttingDown());
    return new Promise((resolve, reject) => {
      this.queue.push({ publicKey, message, signature, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.dispatch();
        });
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const queued = this.queue;
    this.queue = [];
    queued.forEach((p) => p.reject(shuttingDown()));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  /** Hands queued requests, in batches, to workers with room; the rest waits for a worker to finish a batch. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let target: PoolWorker | undefined;
      for (const w of this.workers) {
        if (w.batches.size < MAX_BATCHES_PER_WORKER && (target === undefined || w.inFlight < target.inFlight)) target = w;
      }
      if (target === undefined) return; // a worker finishing calls dispatch again
      this.send(target, this.queue.splice(0, MAX_BATCH));
    }
  }

  private send(target: PoolWorker, batch: Pending[]): void {
    const id = this.nextBatchId;
    this.nextBatchId = (this.nextBatchId + 1) >>> 0;
    const size = batch.reduce((n, p) => n + 4 + 32 + 64 + p.message.length, 8);
    const data = Buffer.allocUnsafe(size);
    data.writeUInt32BE(id, 0);
    data.writeUInt32BE(batch.length, 4);
    let off = 8;
    for (const p of batch) {
      off = data.writeUInt32BE(p.message.length, off);
      data.set(p.publicKey, off);
      off += 32;
      data.set(p.signature, off);
      off += 64;
      data.set(p.message, off);
      off += p.message.length;
    }
    target.batches.set(id, batch);
    target.inFlight += batch.length;
    const copy = data.buffer.slice(data.byteOffset, data.byteOffset + size);
    target.worker.postMessage(copy, [copy]);
  }
}
