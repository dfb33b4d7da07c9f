// An online backup of a node's database and files, safe while the node runs.
//
// Consistency: the database is copied with SQLite's online backup API from a
// connection that holds one read transaction for the whole copy, so every
// step reads the same snapshot. (Without it, any commit by the node between
// two steps restarts the copy from the first page, and under steady add-leaf
// traffic a stepped backup never finishes.) In WAL mode a reader never blocks
// the node's writes; the WAL only grows until the copy is done.
//
// Pacing: the copy and then the database's SHA-256 are each limited to a rate
// (bytesPerSecond, [backup] max-rate), with a pause after each step, and the
// copy's written pages are synced every few MiB, so the node's own commits
// never wait behind one large writeback (design.md has the measurements).
// The pauses block (Atomics.wait: better-sqlite3's progress callback cannot
// delay a step any other way), so the database part runs in a worker thread
// with its own connection (copy-worker.ts): neither the node's event loop,
// during a periodic backup, nor the CLI's progress display ever waits on it.
// Stopping wakes a pause at once (the shared `wake` flag).
//
// The sth file (and startup file) are read before the snapshot is taken: the
// node writes a tree head's leaves before the head, so the copied head is
// always covered by the copied tree; this is checked (same root at its size).
//
// Durability: every file is written and fsync'd, then the manifest is
// written atomically, last. A directory without manifest.json is an
// unfinished backup and never restored.
import { closeSync, createReadStream, existsSync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { parseCosignedTreeHead } from '../formats/messages.js';
import type { SignedTreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import { LIFECYCLE_KEY, parseLifecycleState, type LifecycleState } from '../lifecycle.js';
import { PUBLISHED_TREE_HEAD_KEY } from '../replication/replicator.js';
import { fsyncFile, writeFileAtomic } from '../storage/atomic-file.js';
import { SthFile } from '../storage/sth-file.js';
import { DatabaseOpenError } from '../tree/errors.js';
import { emptyRoot } from '../tree/hash.js';
import { TreeStore } from '../tree/store.js';
import { versionString } from '../version.js';
import { DEFAULT_MAX_RATE_MIB, mibPerSecond, Pacer, sleepSync } from './pace.js';
import { BACKUP_FILES, formatManifest, MANIFEST_FORMAT, MANIFEST_NAME, type BackupManifest, type ManifestFile, type ManifestHead } from './manifest.js';

/** A backup that must not be taken (or restored) as asked; the message says why and what to do. */
export class BackupRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupRefusal';
  }
}

export interface BackupOptions {
  dbFile: string;
  /** The primary's sth file; its startup file is `<sth-file>.startup`. Ignored for a replica's database. */
  sthFile?: string | undefined;
  /** Empty or absent directory to write into. */
  outDir: string;
  /** Database pages (4 KiB) copied per step, and the chunk the database's SHA-256 reads (pages × 4 KiB). */
  pagesPerStep?: number;
  /**
   * Rate limit of the copy and, separately, of the database's SHA-256, in
   * bytes per second (0: none; default DEFAULT_MAX_RATE_MIB MiB/s). A backup
   * of an n-byte database takes at least 2n / rate.
   */
  bytesPerSecond?: number;
  onProgress?: (pagesDone: number, pagesTotal: number) => void;
  now?: () => Date;
  /** Abandons the copy at its next step (BackupAborted); the directory is left without a manifest. */
  signal?: AbortSignal;
}

export class BackupAborted extends Error {
  constructor() {
    super('the backup was abandoned (the node is stopping)');
    this.name = 'BackupAborted';
  }
}

/** Default pages per step: 256 KiB, about a millisecond of copying. */
export const DEFAULT_PAGES_PER_STEP = 64;

/** The copy's written pages are fdatasync'd after every this many bytes (design.md "Backup and restore"). */
const SYNC_EVERY_BYTES = 4 * 1024 * 1024;

export async function createBackup(opts: BackupOptions): Promise<BackupManifest> {
  prepareEmptyDir(opts.outDir);
  if (!existsSync(opts.dbFile)) throw new BackupRefusal(`there is no database at ${opts.dbFile}; check db-file in the config`);
  const snapshot = await runCopyWorker(opts);
  const files: Array<{ role: keyof typeof BACKUP_FILES; bytes?: Uint8Array }> = [{ role: 'database' }];
  if (snapshot.sth !== undefined) files.push({ role: 'sth', bytes: snapshot.sth });
  if (snapshot.startup !== undefined) files.push({ role: 'startup', bytes: snapshot.startup });
  for (const f of files) if (f.bytes !== undefined) writeFileAtomic(join(opts.outDir, BACKUP_FILES[f.role]), f.bytes);
  const listed: ManifestFile[] = [];
  for (const f of files) {
    const path = join(opts.outDir, BACKUP_FILES[f.role]);
    // The database was hashed by the worker, paced; the sth and startup files are a few hundred bytes.
    const sha256 = f.role === 'database' ? snapshot.databaseSha256 : await sha256File(path);
    listed.push({ name: BACKUP_FILES[f.role], role: f.role, bytes: statSync(path).size, sha256 });
  }
  const manifest: BackupManifest = {
    format: MANIFEST_FORMAT,
    software: versionString(),
    createdAt: (opts.now?.() ?? new Date(snapshot.snapshotAtMs)).toISOString(),
    lifecycle: snapshot.lifecycle,
    tree: snapshot.tree,
    publishedHead: snapshot.publishedHead,
    files: listed,
  };
  writeFileAtomic(join(opts.outDir, MANIFEST_NAME), formatManifest(manifest)); // crash-safe point: from here it is a backup
  return manifest;
}

/** What the worker read and wrote inside the snapshot (see copySnapshot). */
export interface SnapshotResult {
  snapshotAtMs: number;
  lifecycle: LifecycleState;
  tree: { size: number; root: string };
  publishedHead: ManifestHead | null;
  /** The sth and startup files' bytes as read before the snapshot (a primary's), to be written by the caller. */
  sth?: Uint8Array;
  startup?: Uint8Array;
  /** SHA-256 of the copied database file, after its fsync. */
  databaseSha256: string;
}

/** What the worker is given (structured-cloned; `wake` is shared). */
export interface CopyRequest {
  dbFile: string;
  sthFile: string | undefined;
  dest: string;
  pagesPerStep: number;
  bytesPerSecond: number;
  /** [0] != 0: abandon (set with Atomics.store and Atomics.notify, which also ends a pause at once). */
  wake: Int32Array;
}

export type CopyMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; result: SnapshotResult }
  | { type: 'error'; name: string; message: string; path?: string; reason?: string };

/**
 * Runs copySnapshot in a worker thread with its own SQLite connection: the
 * paced copy sleeps between steps (Atomics.wait), which must never block the
 * thread that called createBackup (the node's event loop, for a periodic
 * backup; the CLI's, which draws the progress bar).
 */
function runCopyWorker(opts: BackupOptions): Promise<SnapshotResult> {
  const wake = new Int32Array(new SharedArrayBuffer(4));
  const request: CopyRequest = {
    dbFile: opts.dbFile,
    sthFile: opts.sthFile,
    dest: join(opts.outDir, BACKUP_FILES.database),
    pagesPerStep: opts.pagesPerStep ?? DEFAULT_PAGES_PER_STEP,
    bytesPerSecond: opts.bytesPerSecond ?? mibPerSecond(DEFAULT_MAX_RATE_MIB),
    wake,
  };
  const abort = (): void => {
    Atomics.store(wake, 0, 1);
    Atomics.notify(wake, 0);
  };
  if (opts.signal?.aborted === true) return Promise.reject(new BackupAborted());
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./copy-worker.js', import.meta.url), { workerData: request });
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', abort);
      f();
    };
    opts.signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (m: CopyMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.done, m.total);
      else if (m.type === 'done') settle(() => resolve(m.result));
      else settle(() => reject(reviveError(m)));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the backup worker exited (code ${code}) before it finished`))));
  });
}

function reviveError(m: Extract<CopyMessage, { type: 'error' }>): Error {
  if (m.name === 'BackupRefusal') return new BackupRefusal(m.message);
  if (m.name === 'BackupAborted') return new BackupAborted();
  if (m.name === 'DatabaseOpenError' && m.path !== undefined && m.reason !== undefined) return new DatabaseOpenError(m.path, m.reason);
  const err = new Error(m.message);
  err.name = m.name;
  return err;
}

/**
 * The database part of a backup, in the worker thread: the sth and startup
 * files, then one read transaction for the size, root, lifecycle state,
 * published head and the paced copy; then the copy's fsync and its paced
 * SHA-256.
 */
export async function copySnapshot(req: CopyRequest, progress: (done: number, total: number) => void): Promise<SnapshotResult> {
  const aborted = (): boolean => Atomics.load(req.wake, 0) !== 0;
  if (aborted()) throw new BackupAborted();
  const store = TreeStore.open(req.dbFile);
  let result: Omit<SnapshotResult, 'databaseSha256'>;
  try {
    // Read before the snapshot, from a state no older than it (see above).
    const lifecycleBefore = parseLifecycleState(store.getMeta(LIFECYCLE_KEY));
    const primary = lifecycleBefore === 'appending' || lifecycleBefore === 'frozen';
    let sth: SignedTreeHead | undefined;
    let sthBytes: Uint8Array | undefined;
    let startupBytes: Uint8Array | undefined;
    if (primary) {
      if (req.sthFile === undefined || req.sthFile === '') throw new BackupRefusal(`${req.dbFile} is a primary's database; [primary] sth-file must be set to back up its sth file`);
      const file = new SthFile(req.sthFile);
      if (file.exists()) {
        sth = file.load();
        sthBytes = readFileSync(file.path);
      }
      if (existsSync(file.startupPath)) startupBytes = readFileSync(file.startupPath);
    }

    store.db.exec('BEGIN'); // the snapshot: every read and every backup step below sees it
    try {
      const snapshotAtMs = Date.now();
      const size = store.size();
      const tree = { size, root: toHex(size === 0 ? emptyRoot() : store.rootAt(size)) };
      const lifecycle = parseLifecycleState(store.getMeta(LIFECYCLE_KEY));
      if (lifecycle === undefined) throw new BackupRefusal(`${req.dbFile} has no lifecycle state: no node has run on it`);
      let publishedHead: ManifestHead | null = null;
      if (sth !== undefined) {
        publishedHead = coveredHead(store, size, sth, 'sth-file', `the sth file ${req.sthFile}`);
      } else if (!primary) {
        const record = store.getMeta(PUBLISHED_TREE_HEAD_KEY);
        if (record !== undefined) publishedHead = coveredHead(store, size, parseCosignedTreeHead(record), 'replica-record', 'the recorded published tree head');
      }
      const pageSize = Number(store.db.pragma('page_size', { simple: true }));
      const pacer = new Pacer(req.bytesPerSecond);
      let copied = 0;
      let unsynced = 0;
      let destFd: number | undefined;
      try {
        const last = await store.db.backup(req.dest, {
          progress: ({ totalPages, remainingPages }) => {
            const done = totalPages - remainingPages;
            // Written back in small pieces as the copy goes, not all at its end:
            // one large writeback stalls every fsync of the node's commits.
            unsynced += (done - copied) * pageSize;
            if (unsynced >= SYNC_EVERY_BYTES) {
              destFd ??= openSync(req.dest, 'r');
              fdatasyncSync(destFd);
              unsynced = 0;
            }
            // better-sqlite3 closes the backup and rejects when this throws.
            if (!sleepSync(pacer.charge((done - copied) * pageSize), req.wake)) throw new BackupAborted();
            copied = done;
            progress(done, totalPages);
            return req.pagesPerStep;
          },
        });
        // The last step is not reported to the callback; its bytes are paced here.
        if (!sleepSync(pacer.charge((last.totalPages - copied) * pageSize), req.wake)) throw new BackupAborted();
      } finally {
        if (destFd !== undefined) closeSync(destFd);
      }
      result = { snapshotAtMs, lifecycle, tree, publishedHead };
      if (sthBytes !== undefined) result.sth = sthBytes;
      if (startupBytes !== undefined) result.startup = startupBytes;
    } finally {
      store.db.exec('COMMIT');
    }
  } finally {
    store.close();
  }
  fsyncFile(req.dest);
  const databaseSha256 = sha256FilePaced(req.dest, new Pacer(req.bytesPerSecond), req.pagesPerStep * 4096, req.wake);
  return { ...result, databaseSha256 };
}

/** SHA-256 of a file read in chunks of `chunk` bytes at the pacer's rate (blocking; the worker only). */
function sha256FilePaced(path: string, pacer: Pacer, chunk: number, wake: Int32Array): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.max(chunk, 65_536));
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      if (!sleepSync(pacer.charge(n), wake)) throw new BackupAborted();
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The head as the manifest records it, after checking that the copied tree covers it with the same root. */
function coveredHead(store: TreeStore, size: number, head: SignedTreeHead, source: ManifestHead['source'], what: string): ManifestHead {
  if (head.size > size) {
    throw new BackupRefusal(`${what} (size ${head.size}) is larger than the database's tree (size ${size}); check the node with sigsum-log fsck`);
  }
  const local = head.size === 0 ? emptyRoot() : store.rootAt(head.size);
  if (!bytesEqual(local, head.rootHash)) {
    throw new BackupRefusal(`${what} (size ${head.size}) has root ${toHex(head.rootHash)}, but the database's root at that size is ${toHex(local)}; check the node with sigsum-log fsck`);
  }
  return { size: head.size, root: toHex(head.rootHash), source };
}

/** Creates the directory, or accepts an existing empty one. */
function prepareEmptyDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new BackupRefusal(`${dir} is not a directory`);
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      const unfinished = !entries.includes(MANIFEST_NAME);
      throw new BackupRefusal(
        `${dir} is not empty` +
          (unfinished ? ' (it has no manifest.json: an unfinished backup, which is never restored; remove it)' : ' (it holds a backup)') +
          '; give an empty or new directory',
      );
    }
  }
  mkdirSync(dir, { recursive: true });
}

/** SHA-256 of a file, streamed (the database may be large), as lowercase hex. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
