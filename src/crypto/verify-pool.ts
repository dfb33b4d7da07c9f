// Ed25519 verification on worker threads, batched. add-leaf verifies one
// signature per request; doing that on the main thread caps throughput at one
// core, and node:crypto's callback form still spends most of a verify's cost
// on the calling thread. Requests are queued, and once per event-loop turn
// the queue is sent as one message to the least busy worker, so the per-
// message cost is shared by every request in the batch.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PublicKey, Signature } from '../types.js';

interface Pending {
  publicKey: PublicKey;
  message: Uint8Array;
  signature: Signature;
  resolve(ok: boolean): void;
}

interface PoolWorker {
  worker: Worker;
  inFlight: number;
  batches: Map<number, Pending[]>;
}

// Worker body, run from a data: URL so that the pool needs no separate file.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
parentPort.on('message', ({ id, data, count }) => {
  const buf = Buffer.from(data);
  const results = new Uint8Array(count);
  let off = 0;
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
  parentPort.postMessage({ id, results }, [results.buffer]);
});
`;

export class VerifyPool {
  private readonly workers: PoolWorker[] = [];
  private queue: Pending[] = [];
  private scheduled = false;
  private nextBatchId = 0;

  constructor(size = Math.max(1, availableParallelism())) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref(); // never keeps the process alive
      const entry: PoolWorker = { worker, inFlight: 0, batches: new Map() };
      worker.on('message', ({ id, results }: { id: number; results: Uint8Array }) => {
        const batch = entry.batches.get(id);
        if (batch === undefined) return;
        entry.batches.delete(id);
        entry.inFlight -= batch.length;
        batch.forEach((p, j) => p.resolve(results[j] === 1));
      });
      worker.on('error', () => {
        // A crashed worker fails its batches closed (not verified), never open.
        for (const batch of entry.batches.values()) batch.forEach((p) => p.resolve(false));
        entry.batches.clear();
        entry.inFlight = Number.POSITIVE_INFINITY;
      });
      this.workers.push(entry);
    }
  }

  /** Resolves true iff the signature verifies; never rejects. */
  verify(publicKey: PublicKey, message: Uint8Array, signature: Signature): Promise<boolean> {
    return new Promise((resolve) => {
      this.queue.push({ publicKey, message, signature, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.dispatch());
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private dispatch(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const target = this.workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    if (!Number.isFinite(target.inFlight)) {
      batch.forEach((p) => p.resolve(false));
      return;
    }
    const size = batch.reduce((n, p) => n + 4 + 32 + 64 + p.message.length, 0);
    const data = Buffer.allocUnsafe(size);
    let off = 0;
    for (const p of batch) {
      off = data.writeUInt32BE(p.message.length, off);
      data.set(p.publicKey, off);
      off += 32;
      data.set(p.signature, off);
      off += 64;
      data.set(p.message, off);
      off += p.message.length;
    }
    const id = this.nextBatchId++;
    target.batches.set(id, batch);
    target.inFlight += batch.length;
    const copy = data.buffer.slice(data.byteOffset, data.byteOffset + size);
    target.worker.postMessage({ id, data: copy, count: batch.length }, [copy]);
  }
}
