// Periodic backups from the running node ([backup] dir, interval, keep).
//
// Each backup is written into `<dir>/.partial-<name>` and renamed to
// `<dir>/<name>` only once its manifest is written, so a finished backup is
// exactly a `backup-*` directory with a manifest; anything a crash left
// behind is a `.partial-*` directory, removed by the next run. Names are the
// UTC start time, `backup-2026-12-01T08-04-12.123Z`, so that sorting by name
// is sorting by age; the newest `keep` are kept.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { fsyncDirectory } from '../storage/atomic-file.js';
import { runPeriodically, type Periodic } from '../periodic.js';
import { BackupAborted, createBackup } from './backup.js';
import { MANIFEST_NAME } from './manifest.js';

export interface PeriodicBackupOptions {
  dbFile: string;
  sthFile?: string | undefined;
  dir: string;
  intervalMs: number;
  /** Finished backups kept (≥ 1). */
  keep: number;
  log: Logger;
  pagesPerStep?: number;
  /** Rate limit of the copy and of the hashing, bytes/s (0: none); see BackupOptions. */
  bytesPerSecond?: number;
  now?: () => Date;
  signal?: AbortSignal;
}

const PREFIX = 'backup-';
const PARTIAL = '.partial-';

export function backupName(at: Date): string {
  return PREFIX + at.toISOString().replace(/:/g, '-');
}

/** Finished backups in `dir`, oldest first. */
export function listBackups(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith(PREFIX) && existsSync(join(dir, n, MANIFEST_NAME)))
    .sort();
}

/** One run: clean up, take a backup, prune. Returns the new backup's directory. */
export async function takePeriodicBackup(opts: PeriodicBackupOptions): Promise<string> {
  mkdirSync(opts.dir, { recursive: true });
  for (const n of readdirSync(opts.dir)) {
    if (!n.startsWith(PARTIAL)) continue;
    rmSync(join(opts.dir, n), { recursive: true, force: true });
    opts.log.warning(`backup: removed ${join(opts.dir, n)}, an unfinished backup (no manifest) left by an interrupted run`);
  }
  const name = backupName(opts.now?.() ?? new Date());
  const partial = join(opts.dir, PARTIAL + name);
  const final = join(opts.dir, name);
  const began = Date.now();
  const manifest = await createBackup({ dbFile: opts.dbFile, sthFile: opts.sthFile, outDir: partial, pagesPerStep: opts.pagesPerStep, bytesPerSecond: opts.bytesPerSecond, now: opts.now, signal: opts.signal });
  renameSync(partial, final); // crash-safe point: a finished backup appears under its name
  fsyncDirectory(opts.dir);
  opts.log.info(`backup: ${final} (tree size ${manifest.tree.size}, ${Date.now() - began} ms)`);
  const all = listBackups(opts.dir);
  for (const old of all.slice(0, Math.max(0, all.length - opts.keep))) {
    rmSync(join(opts.dir, old), { recursive: true, force: true });
    opts.log.info(`backup: removed ${join(opts.dir, old)} (keep = ${opts.keep})`);
  }
  return final;
}

/**
 * Runs takePeriodicBackup at start and every intervalMs; a failed run is
 * logged and retried next interval. stop() abandons a backup in progress (its
 * .partial- directory is removed by the next run) rather than delaying the
 * node's shutdown by a whole copy.
 */
export function startPeriodicBackups(opts: PeriodicBackupOptions): Periodic {
  const abort = new AbortController();
  const loop = runPeriodically(opts.intervalMs, () => takePeriodicBackup({ ...opts, signal: abort.signal }), {
    failed: (err) => {
      if (err instanceof BackupAborted) opts.log.info(`backup into ${opts.dir} abandoned: the node is stopping`);
      else opts.log.error(`backup into ${opts.dir} failed (retried in ${opts.intervalMs} ms): ${(err as Error).message}`);
    },
  });
  return {
    stop: async () => {
      abort.abort();
      await loop.stop();
    },
  };
}

