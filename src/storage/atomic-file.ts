// Crash-safe file replacement. After writeFileAtomic returns, the file holds
// exactly the new content and survives power loss: the data is fsync'd before
// the rename, and the directory is fsync'd after it, so the rename itself is
// durable. A crash at any point leaves either the old or the new content,
// never a mix (at worst a stray temporary file, which is ignored).
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Makes a file's content written by someone else (e.g. SQLite's backup API) durable. */
export function fsyncFile(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes the directory's entries (creations, renames, removals) durable. */
export function fsyncDirectory(dir: string): void {
  fsyncFile(dir); // a directory is fsync'd through a read-only descriptor, like a file
}

/** Durable once it returns. */
export function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w', mode);
  try {
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path); // crash-safe point: old or new content, never a mix
  fsyncDirectory(dir); // the rename is durable from here on
}

/** Removes a file if present; durable once it returns. */
export function removeFileDurably(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  fsyncDirectory(dirname(path));
}

/**
 * writeFileAtomic off the event loop (fs/promises), for bulk writers such as
 * the tile export. Without `syncDirectory` the rename is not yet durable: the
 * caller fsyncs the directory (fsyncDirectoryAsync) once for many files
 * before anything that depends on them.
 */
export async function writeFileAtomicAsync(path: string, content: Uint8Array | string, opts: { syncDirectory: boolean }): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}`);
  const file = await fsp.open(tmp, 'w', 0o644);
  try {
    await file.writeFile(content);
    await file.sync();
  } catch (err) {
    await file.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await file.close();
  await fsp.rename(tmp, path); // crash-safe point: old or new content, never a mix
  if (opts.syncDirectory) await fsyncDirectoryAsync(dir);
}

/** fsync of a directory, so the renames and creations in it are durable. */
export async function fsyncDirectoryAsync(dir: string): Promise<void> {
  const handle = await fsp.open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
