// Restore a backup into a new replica database. A restored node never signs
// from the backup: its tree may be behind the log's published head, so it is
// installed in the replica state, catches up from a surviving node (as any
// secondary), and only promote-secondary, whose checks refuse a tree behind a
// published head, makes it a primary again.
//
// Every file is checked against the manifest before anything is written. The
// database is prepared under a temporary name and renamed into place last
// (the commit point): an interrupted restore leaves no database at db-file,
// and the next run starts over.
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { verifyTreeHeadSignature } from '../formats/checkpoint.js';
import { formatCosignedTreeHead, parseCosignedTreeHead } from '../formats/messages.js';
import type { CosignedTreeHead, SignedTreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import { LIFECYCLE_KEY } from '../lifecycle.js';
import { PUBLISHED_TREE_HEAD_KEY, VERIFIED_SIZE_KEY } from '../replication/replicator.js';
import { fsyncDirectory, fsyncFile, writeFileAtomic } from '../storage/atomic-file.js';
import { SthFile } from '../storage/sth-file.js';
import { emptyRoot } from '../tree/hash.js';
import { TreeStore } from '../tree/store.js';
import type { PublicKey } from '../types.js';
import { BackupRefusal, sha256File } from './backup.js';
import { BACKUP_FILES, MANIFEST_NAME, ManifestError, parseManifest, type BackupManifest } from './manifest.js';

/** The primary's own record of its published cosigned head (src/primary/startup.ts). */
const PRIMARY_COSIGNED_KEY = 'published-cosigned-tree-head';

export interface RestoreOptions {
  fromDir: string;
  /** Where to install the database; must not exist. */
  dbFile: string;
  /** The log's key ([secondary] log-pubkey-file): a primary's sth file is recorded as the published head only when it verifies. */
  logPublicKey?: PublicKey | undefined;
}

export interface RestoreResult {
  manifest: BackupManifest;
  /** Where the backup's sth file was installed (for promote-secondary --published-head), if it had one. */
  sthCopy: string | undefined;
  /** The size up to which the restored tree counts as verified (leaves past it are compared again during catch-up). */
  verifiedSize: number;
  /** The published head the replica now records, if any. */
  publishedSize: number | undefined;
}

/** `<db-file without extension>.restored.sth`, next to the database. */
export function restoredSthPath(dbFile: string): string {
  return join(dirname(dbFile), `${basename(dbFile, extname(dbFile))}.restored.sth`);
}

/** Reads and checks a backup directory: the manifest, and every file's size and SHA-256. */
export async function checkBackup(dir: string): Promise<BackupManifest> {
  const manifestPath = join(dir, MANIFEST_NAME);
  if (!existsSync(manifestPath)) {
    throw new BackupRefusal(`${dir} has no ${MANIFEST_NAME}: it is not a finished backup (the manifest is written last); use another backup`);
  }
  let manifest: BackupManifest;
  try {
    manifest = parseManifest(readFileSync(manifestPath, 'utf8'));
  } catch (err) {
    if (err instanceof ManifestError) throw new BackupRefusal(`${manifestPath}: ${err.message}`);
    throw err;
  }
  for (const f of manifest.files) {
    const path = join(dir, f.name);
    if (!existsSync(path)) throw new BackupRefusal(`${path} is listed in the manifest but missing; the backup is incomplete`);
    const bytes = statSync(path).size;
    if (bytes !== f.bytes) throw new BackupRefusal(`${path} has ${bytes} bytes, the manifest says ${f.bytes}; the backup is damaged`);
    const sha = await sha256File(path);
    if (sha !== f.sha256) throw new BackupRefusal(`${path} has SHA-256 ${sha}, the manifest says ${f.sha256}; the backup is damaged`);
  }
  return manifest;
}

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const manifest = await checkBackup(opts.fromDir);
  if (!existsSync(dirname(opts.dbFile))) throw new BackupRefusal(`the directory of db-file ${opts.dbFile} does not exist; create it first`);
  for (const path of [opts.dbFile, `${opts.dbFile}-wal`]) {
    if (existsSync(path)) throw new BackupRefusal(`${path} exists; restore never overwrites a database: move it away or configure another db-file`);
  }
  const temp = `${opts.dbFile}.restoring`;
  for (const leftover of [temp, `${temp}-wal`, `${temp}-shm`]) rmSync(leftover, { force: true }); // an interrupted earlier run's
  copyFileSync(join(opts.fromDir, BACKUP_FILES.database), temp);
  fsyncFile(temp);

  const hasSth = manifest.files.some((f) => f.role === 'sth');
  const backupSth = hasSth ? new SthFile(join(opts.fromDir, BACKUP_FILES.sth)).load() : undefined;
  let verifiedSize: number;
  let publishedSize: number | undefined;
  const store = TreeStore.open(temp);
  try {
    const size = store.size();
    const root = toHex(size === 0 ? emptyRoot() : store.rootAt(size));
    if (size !== manifest.tree.size || root !== manifest.tree.root) {
      throw new BackupRefusal(`the backup's database holds a tree of size ${size} (root ${root}), but its manifest says size ${manifest.tree.size} (root ${manifest.tree.root})`);
    }
    // Always a replica: a restored copy is a new database, never the primary it was taken from.
    store.setMeta(LIFECYCLE_KEY, 'replica');
    if (manifest.lifecycle === 'replica') {
      verifiedSize = Number(store.getMeta(VERIFIED_SIZE_KEY) ?? '0');
      const record = store.getMeta(PUBLISHED_TREE_HEAD_KEY);
      publishedSize = record === undefined ? undefined : parseCosignedTreeHead(record).size;
    } else {
      // A primary's tree: the leaves its sth file covers were published with that root, so they
      // count as verified when the head verifies with the log's key; leaves past it (sequenced,
      // maybe never published) are compared with the upstream's during catch-up.
      const head = backupSth === undefined ? undefined : publishedHeadFrom(store, backupSth, opts.logPublicKey);
      if (head !== undefined) {
        store.setMeta(PUBLISHED_TREE_HEAD_KEY, formatCosignedTreeHead(head));
        publishedSize = head.size;
      }
      verifiedSize = head?.size ?? 0;
      store.setMeta(VERIFIED_SIZE_KEY, String(verifiedSize));
    }
  } catch (err) {
    store.close();
    rmSync(temp, { force: true });
    throw err;
  }
  store.close(); // checkpoints the WAL into the file and removes it
  fsyncFile(temp);

  let sthCopy: string | undefined;
  if (hasSth) {
    sthCopy = restoredSthPath(opts.dbFile);
    writeFileAtomic(sthCopy, readFileSync(join(opts.fromDir, BACKUP_FILES.sth)));
  }
  renameSync(temp, opts.dbFile); // crash-safe point: the database appears whole, or not at all
  fsyncDirectory(dirname(opts.dbFile));
  return { manifest, sthCopy, verifiedSize, publishedSize };
}

/** The backup's sth head as a replica's published-head record, when the log key verifies it and the tree holds it. */
function publishedHeadFrom(store: TreeStore, sth: SignedTreeHead, key: PublicKey | undefined): CosignedTreeHead | undefined {
  if (key === undefined) return undefined;
  if (!verifyTreeHeadSignature(key, sth)) {
    throw new BackupRefusal("the backup's sth file is not signed by log-pubkey-file: this backup is of another log, or the key is wrong");
  }
  if (sth.size > store.size() || !bytesEqual(sth.size === 0 ? emptyRoot() : store.rootAt(sth.size), sth.rootHash)) {
    throw new BackupRefusal(`the backup's sth file (size ${sth.size}) is not covered by its database's tree`);
  }
  // Reattach the cosignatures the primary kept for exactly this head.
  const stored = store.getMeta(PRIMARY_COSIGNED_KEY);
  if (stored !== undefined) {
    const cosigned = parseCosignedTreeHead(stored);
    if (cosigned.size === sth.size && bytesEqual(cosigned.rootHash, sth.rootHash) && bytesEqual(cosigned.signature, sth.signature)) return cosigned;
  }
  return { ...sth, cosignatures: [] };
}
