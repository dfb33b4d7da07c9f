// Static export of the tlog-tiles read path (`tiles-dir`): after each
// published head, the new tiles and entry bundles are written into a
// directory with the URL paths as file paths, so that any static web server,
// CDN or object store can serve the log. The bytes come from the same code
// that serves them over HTTP (PublishedReads), so both agree by construction.
//
// Order, for a consistent directory at every instant: tiles and bundles
// (each atomically: temp file, fsync, rename), then one fsync per directory
// touched, then `checkpoint` (atomically, durably) last; only then are
// partial tiles that the new head replaced removed (older widths, and every
// partial whose full tile now exists). Crash-safe and resumable: the
// checkpoint in the directory says what is complete; a node killed
// mid-export rewrites from there at its next head (rewrites are identical
// bytes). The work runs off the caller's path: file I/O on libuv's threads,
// a few files in flight, heads arriving meanwhile coalesced into the newest.
import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { keyHash } from '../crypto/index.js';
import { verifyTreeHeadSignature } from '../formats/checkpoint.js';
import { parseSigsumCheckpointNote } from '../formats/signed-note.js';
import type { CosignedTreeHead } from '../formats/tree-head.js';
import { bytesEqual } from '../hex.js';
import type { Logger } from '../log.js';
import { RepeatFilter } from '../log-repeats.js';
import { PublishedReads, type ReadStore } from '../public-api/reads.js';
import { fsyncDirectoryAsync, writeFileAtomicAsync } from '../storage/atomic-file.js';
import { emptyRoot } from '../tree/hash.js';
import type { Hash, PublicKey } from '../types.js';
import { inPool } from './pool.js';
import { formatTileIndex, formatTilePath, TILE_WIDTH, tileLevelCount, type TileRef } from './layout.js';

export interface TileExportOptions {
  dir: string;
  store: ReadStore & { rootAt(size: number): Hash };
  logPublicKey: PublicKey;
  witnessKey?: (witnessKeyHash: Hash) => PublicKey | undefined;
  log: Logger;
  /** Files written at once (default 16: concurrent fsyncs share journal commits; measured faster than 4). */
  parallel?: number;
}

/** What one export wrote, for logs and benchmarks. */
export interface ExportReport {
  fromSize: number;
  size: number;
  files: number;
  removed: number;
  ms: number;
}

export class TileExporter {
  private wanted: CosignedTreeHead | undefined;
  private exported: CosignedTreeHead | undefined;
  /** Size of the checkpoint in the directory (everything up to it is complete); undefined: not read yet. */
  private completeSize: number | undefined;
  /** Partial tiles below this size's edge have been removed (in this process). */
  private cleanedSize = 0;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly repeats: RepeatFilter;
  private readonly madeDirs = new Set<string>();
  /** Called after each completed export (tests, benchmarks, metrics). */
  onExported: ((report: ExportReport) => void) | undefined;

  constructor(private readonly opts: TileExportOptions) {
    this.repeats = new RepeatFilter(opts.log);
  }

  /** A new head was published: export it soon. Never throws; never waits. */
  headPublished(head: CosignedTreeHead | undefined): void {
    if (head === undefined || this.stopped) return;
    if (this.wanted === head || (this.wanted === undefined && this.exported === head)) return;
    this.wanted = head;
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves when no export is under way (the latest head given is exported, or failed). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Stops after the file in flight; the directory stays consistent (checkpoint last). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async run(): Promise<void> {
    while (this.wanted !== undefined && !this.stopped) {
      const head = this.wanted;
      this.wanted = undefined;
      try {
        const report = await this.exportHead(head);
        this.exported = head;
        if (this.repeats.clear('export')) this.opts.log.info(`tile export to ${this.opts.dir} works again`);
        this.onExported?.(report);
      } catch (err) {
        // Retried with the next head (or the same one at the next poll); the directory still holds the last complete export.
        this.exported = undefined;
        this.completeSize = undefined;
        this.repeats.report('error', 'export', (err as Error)?.name ?? 'error', `tile export to ${this.opts.dir} failed (retried at the next head): ${(err as Error)?.message ?? String(err)}`);
      }
    }
  }

  /** Writes what `head` adds to the directory, then its checkpoint, then removes replaced partial tiles. */
  async exportHead(head: CosignedTreeHead): Promise<ExportReport> {
    const started = performance.now();
    const { dir } = this.opts;
    const reads = new PublishedReads({ store: this.opts.store, head: () => head, maxRange: 1, logPublicKey: this.opts.logPublicKey, witnessKey: this.opts.witnessKey });
    const from = Math.min(this.completeSize ?? (await this.readCompleteSize()), head.size);
    const size = head.size;
    const refs: TileRef[] = [];
    const levels = tileLevelCount(size);
    for (let level = 0; level < levels; level++) addNewResources(refs, level, from, size);
    if (size > 0) addNewResources(refs, 'entries', from, size);

    const dirs = new Set<string>();
    let files = 0;
    await inPool(refs, this.opts.parallel ?? 16, async (ref) => {
      if (this.stopped) throw new Error('stopping');
      const path = join(dir, formatTilePath(ref));
      await this.ensureDir(dirname(path));
      await writeFileAtomicAsync(path, reads.tile(ref), { syncDirectory: false });
      dirs.add(dirname(path));
      files++;
    });
    for (const d of dirs) await fsyncDirectoryAsync(d); // every tile durable before the checkpoint names it
    await this.ensureDir(dir);
    await writeFileAtomicAsync(join(dir, 'checkpoint'), reads.checkpoint(), { syncDirectory: true }); // crash-safe point: the new head is complete
    this.completeSize = size;
    files++;
    const removed = await this.removeReplacedPartials(size);
    return { fromSize: from, size, files, removed, ms: performance.now() - started };
  }

  /**
   * The size of the directory's checkpoint when it is this log's, its
   * signature verifies, and its root is our tree's at that size; else 0
   * (everything is written again).
   */
  private async readCompleteSize(): Promise<number> {
    let text: string;
    try {
      text = await fsp.readFile(join(this.opts.dir, 'checkpoint'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    try {
      const sth = parseSigsumCheckpointNote(text, this.opts.logPublicKey);
      const ours = sth.size === 0 ? emptyRoot() : this.opts.store.rootAt(sth.size);
      if (verifyTreeHeadSignature(this.opts.logPublicKey, sth) && bytesEqual(ours, sth.rootHash)) return sth.size;
    } catch {
      // not this log's, or beyond our tree: rewrite everything
    }
    this.opts.log.warning(`${this.opts.dir}/checkpoint is not a checkpoint of this log's tree (key hash ${Buffer.from(keyHash(this.opts.logPublicKey)).toString('hex')}); exporting every tile again`);
    return 0;
  }

  /**
   * Removes partial tiles that the checkpoint no longer needs: every partial
   * of an index whose full tile now exists, and older widths of the current
   * partial. Deletions need no fsync: a removed partial that reappears after
   * a power loss is still correct content.
   */
  private async removeReplacedPartials(size: number): Promise<number> {
    let removed = 0;
    const levels: Array<number | 'entries'> = [...Array.from({ length: tileLevelCount(size) }, (_, l) => l), 'entries'];
    for (const level of levels) {
      const span = TILE_WIDTH ** (level === 'entries' ? 0 : level);
      const nodes = Math.floor(size / span);
      const full = Math.floor(nodes / TILE_WIDTH);
      const base = join(this.opts.dir, 'tile', String(level));
      for (let index = Math.floor(Math.floor(this.cleanedSize / span) / TILE_WIDTH); index <= full; index++) {
        const partialDir = join(base, `${formatTileIndex(index)}.p`);
        const keep = index === full && nodes % TILE_WIDTH !== 0 ? String(nodes % TILE_WIDTH) : undefined;
        let names: string[];
        try {
          names = await fsp.readdir(partialDir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw err;
        }
        for (const name of names) {
          if (name === keep) continue;
          await fsp.rm(join(partialDir, name), { force: true });
          removed++;
        }
        if (keep === undefined) await fsp.rm(partialDir, { recursive: true, force: true });
      }
    }
    this.cleanedSize = size;
    return removed;
  }

  private async ensureDir(path: string): Promise<void> {
    if (this.madeDirs.has(path)) return;
    await fsp.mkdir(path, { recursive: true });
    this.madeDirs.add(path);
  }
}

/** The resources of tile level `level` (or the bundles) that a head of `size` has and one of `from` did not. */
function addNewResources(out: TileRef[], level: number | 'entries', from: number, size: number): void {
  const span = TILE_WIDTH ** (level === 'entries' ? 0 : level);
  const fromNodes = Math.floor(from / span);
  const nodes = Math.floor(size / span);
  for (let index = Math.floor(fromNodes / TILE_WIDTH); index < Math.floor(nodes / TILE_WIDTH); index++) out.push({ level, index, width: TILE_WIDTH });
  const width = nodes % TILE_WIDTH;
  if (width > 0 && nodes > fromNodes) out.push({ level, index: Math.floor(nodes / TILE_WIDTH), width });
}

