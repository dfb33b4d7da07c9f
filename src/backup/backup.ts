// An online backup of a node's database and files, safe while the node runs.
//
// Consistency: the database is copied with SQLite's online backup API from a
// connection that holds one read transaction for the whole copy, so every
// step reads the same snapshot. (Without it, any commit by the node between
// two steps restarts the copy from the first page, and under steady add-leaf
// traffic a stepped backup never finishes.) In WAL mode a reader never blocks
// the node's writes; the WAL only grows until the copy is done. The copy runs
// in small steps with a turn of the event loop between them, so a backup
// inside the running node leaves add-leaf responsive.
//
// The sth file (and startup file) are read before the snapshot is taken: the
// node writes a tree head's leaves before the head, so the copied head is
// always covered by the copied tree; this is checked (same root at its size).
//
// Durability: every file is written and fsync'd, then the manifest is
// written atomically, last. A directory without manifest.json is an
// unfinished backup and never restored.
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseCosignedTreeHead } from '../formats/messages.js';
import type { SignedTreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import { LIFECYCLE_KEY, parseLifecycleState, type LifecycleState } from '../lifecycle.js';
import { PUBLISHED_TREE_HEAD_KEY } from '../replication/replicator.js';
import { fsyncFile, writeFileAtomic } from '../storage/atomic-file.js';
import { SthFile } from '../storage/sth-file.js';
import { emptyRoot } from '../tree/hash.js';
import { TreeStore } from '../tree/store.js';
import { versionString } from '../version.js';
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
  /** Database pages (4 KiB) copied per step; one turn of the event loop between steps. */
  pagesPerStep?: number;
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

export async function createBackup(opts: BackupOptions): Promise<BackupManifest> {
  prepareEmptyDir(opts.outDir);
  if (!existsSync(opts.dbFile)) throw new BackupRefusal(`there is no database at ${opts.dbFile}; check db-file in the config`);
  const store = TreeStore.open(opts.dbFile);
  const files: Array<{ role: keyof typeof BACKUP_FILES; bytes?: Buffer }> = [];
  let lifecycle: LifecycleState;
  let tree: { size: number; root: string };
  let publishedHead: ManifestHead | null = null;
  let createdAt: string;
  try {
    // Read before the snapshot, from a state no older than it (see above).
    const lifecycleBefore = parseLifecycleState(store.getMeta(LIFECYCLE_KEY));
    const primary = lifecycleBefore === 'appending' || lifecycleBefore === 'frozen';
    let sth: SignedTreeHead | undefined;
    if (primary) {
      if (opts.sthFile === undefined || opts.sthFile === '') throw new BackupRefusal(`${opts.dbFile} is a primary's database; [primary] sth-file must be set to back up its sth file`);
      const file = new SthFile(opts.sthFile);
      if (file.exists()) {
        sth = file.load();
        files.push({ role: 'sth', bytes: readFileSync(file.path) });
      }
      if (existsSync(file.startupPath)) files.push({ role: 'startup', bytes: readFileSync(file.startupPath) });
    }

    store.db.exec('BEGIN'); // the snapshot: every read and every backup step below sees it
    try {
      createdAt = (opts.now?.() ?? new Date()).toISOString();
      const size = store.size();
      tree = { size, root: toHex(size === 0 ? emptyRoot() : store.rootAt(size)) };
      const state = parseLifecycleState(store.getMeta(LIFECYCLE_KEY));
      if (state === undefined) throw new BackupRefusal(`${opts.dbFile} has no lifecycle state: no node has run on it`);
      lifecycle = state;
      if (sth !== undefined) {
        publishedHead = coveredHead(store, size, sth, 'sth-file', `the sth file ${opts.sthFile}`);
      } else if (!primary) {
        const record = store.getMeta(PUBLISHED_TREE_HEAD_KEY);
        if (record !== undefined) publishedHead = coveredHead(store, size, parseCosignedTreeHead(record), 'replica-record', 'the recorded published tree head');
      }
      const dest = join(opts.outDir, BACKUP_FILES.database);
      const step = opts.pagesPerStep ?? DEFAULT_PAGES_PER_STEP;
      await store.db.backup(dest, {
        progress: ({ totalPages, remainingPages }) => {
          if (opts.signal?.aborted === true) throw new BackupAborted(); // better-sqlite3 closes the backup and rejects
          opts.onProgress?.(totalPages - remainingPages, totalPages);
          return step;
        },
      });
      files.unshift({ role: 'database' });
    } finally {
      store.db.exec('COMMIT');
    }
  } finally {
    store.close();
  }
  fsyncFile(join(opts.outDir, BACKUP_FILES.database));
  for (const f of files) if (f.bytes !== undefined) writeFileAtomic(join(opts.outDir, BACKUP_FILES[f.role]), f.bytes);
  const listed: ManifestFile[] = [];
  for (const f of files) {
    const path = join(opts.outDir, BACKUP_FILES[f.role]);
    listed.push({ name: BACKUP_FILES[f.role], role: f.role, bytes: statSync(path).size, sha256: await sha256File(path) });
  }
  const manifest: BackupManifest = {
    format: MANIFEST_FORMAT,
    software: versionString(),
    createdAt,
    lifecycle,
    tree,
    publishedHead,
    files: listed,
  };
  writeFileAtomic(join(opts.outDir, MANIFEST_NAME), formatManifest(manifest)); // crash-safe point: from here it is a backup
  return manifest;
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
