// The leaf-hash → index map behind dedup and get-inclusion-proof-by-hash.
//
// Why not a plain unique index on the leaf hash: leaf hashes are random, so a
// batch of 1,000 leaves dirties ~1,000 distinct B-tree pages once the index
// outgrows one batch, and every page is written to the WAL and again at
// checkpoint (measured: 15k leaves/s at 1M leaves). Instead the map has two
// levels:
//
// - disk: table tree_dedup, WITHOUT ROWID, keyed by (h6, idx) where h6 is the
//   first 6 bytes of the leaf hash as an integer (not unique: the full hash is
//   checked against the stored leaf hash, so prefix collisions, even
//   deliberate ones, only cost an extra read). It holds leaves [0, upto) and,
//   of the chunk [upto, upto + chunk) being moved, the slices already written.
// - memory: leaves [upto, size), an open-addressing table in typed arrays. It
//   is derived state: rebuilt on open from the stored leaf hashes, so it needs
//   no durability of its own; it holds at most two chunks plus one batch.
//
// A full chunk moves to disk sorted by h6, so the B-tree sees ordered inserts
// and the pages written per leaf drop to (index pages)/(chunk size). It moves
// in SLICES slices by h6 range, one per append transaction: each slice
// touches only its range of the B-tree, so the work per batch stays a small
// fraction of a whole flush (at 1M leaves a whole one took ~0.4 s) while the
// total pages written stay the same. State "dedup_upto" and "dedup_slices"
// record the progress; both change only in the append transaction that did
// the work.
//
// Scaling: moving a chunk touches every page of the disk B-tree (~20 bytes
// per leaf), so index pages written per leaf grow with size/chunk: about
// 0.05 pages per leaf at 1M leaves, 0.1 at 2M (measured append rate per CPU
// second: 160k at 1M, 130k at 2M). A file created with a larger dedupChunk
// trades memory (~40 bytes per chunk entry) for that; a leveled disk level
// would bound it at the cost of moving each entry several times.
//
// Most lookups are for new leaves, and a miss in a disk B-tree larger than the
// page cache costs a page read (measured 2.6 µs per leaf at 1M leaves, 16% of
// append time, before this filter). A fixed-size filter over the disk level's prefixes (one bit per top
// 25 bits of h6, 4 MiB in tree_dedup_filter, one row per slice, a row
// rewritten when its slice is written) skips the probe for most: 3% false
// positives at 1M disk entries, 26% at 10M. Its size does not grow with the
// tree; it only loses effect. Bits are never cleared (truncation leaves stale
// ones): a stale bit costs one probe, never a wrong answer.
import type Database from 'better-sqlite3';
import { TreeIntegrityError } from './errors.js';
import { EntryDigest } from './entry-digest.js';
import type { HashText } from './hash.js';
import { PrefixMultimap } from './prefix-multimap.js';

const DIGEST_PAGE = 4096;
const INSERT_ROWS = 128;
/** Slices per chunk move, by h6 range; also the filter's rows. */
const SLICES = 32;
const H6_SPAN = 2 ** 48 / SLICES;

/** Default leaves per flush of the memory level: ~5 MB of typed arrays, allocated once. */
export const DEFAULT_DEDUP_CHUNK = 131072;

/** The first 6 bytes of a hash as an integer in [0, 2^48). */
export function hashPrefix(hash: HashText): number {
  return (
    (hash.charCodeAt(0) * 0x10000 + hash.charCodeAt(1) * 0x100 + hash.charCodeAt(2)) * 0x1000000 +
    (hash.charCodeAt(3) * 0x10000 + hash.charCodeAt(4) * 0x100 + hash.charCodeAt(5))
  );
}

const FILTER_BITS_LOG2 = 25;
const FILTER_BYTES = 2 ** (FILTER_BITS_LOG2 - 3);
const FILTER_SHIFT = 2 ** (48 - FILTER_BITS_LOG2);
/** Bytes of the filter covering one slice's h6 range (bits are in h6 order). */
const SLICE_FILTER_BYTES = FILTER_BYTES / SLICES;

function sliceOf(h6: number): number {
  return Math.floor(h6 / H6_SPAN);
}

/** One bit per value of the top 25 bits of h6: "some disk entry may have this prefix". */
class PrefixFilter {
  readonly bits = new Uint8Array(FILTER_BYTES);

  slice(s: number): Uint8Array {
    return this.bits.subarray(s * SLICE_FILTER_BYTES, (s + 1) * SLICE_FILTER_BYTES);
  }

  add(h6: number): void {
    const bit = Math.floor(h6 / FILTER_SHIFT);
    this.bits[bit >>> 3] = (this.bits[bit >>> 3] as number) | (1 << (bit & 7));
  }

  has(h6: number): boolean {
    const bit = Math.floor(h6 / FILTER_SHIFT);
    return ((this.bits[bit >>> 3] as number) & (1 << (bit & 7))) !== 0;
  }
}

/**
 * Reads the stored leaf hash at an index below the current size. Candidates
 * found by prefix are confirmed through it.
 */
export type LeafHashReader = (index: number) => HashText;

export class LeafHashIndex {
  private chunk = DEFAULT_DEDUP_CHUNK;
  private upto = 0;
  private slicesDone = 0; // of the chunk [upto, upto + chunk)
  private size = 0;
  private readonly memory = new PrefixMultimap();
  private readonly filter = new PrefixFilter();
  // h6 of leaves [upto, size) in index order: the flush order source.
  private recent = new Float64Array(1024);

  private readonly probeOne: Database.Statement<[number], number>;
  private readonly probeMany: Database.Statement<[string], [number, number]>;
  private readonly insert: Database.Statement<[number, number]>;
  private readonly insertRows: Database.Statement<[number[]]>;
  private readonly deleteFrom: Database.Statement<[number]>;
  private readonly page: Database.Statement<[number, number], [number, number]>;
  private readonly readFilter: Database.Statement<[], [number, Buffer]>;
  private readonly writeFilter: Database.Statement<[number, Uint8Array]>;
  private readonly readState: Database.Statement<[string], number>;
  private readonly writeState: Database.Statement<[string, number]>;

  /**
   * db must hold the tables created by the store's schema (tree_dedup,
   * tree_dedup_filter, tree_state with "dedup_chunk": the chunk size is fixed
   * when the file is created). Call load() before anything else.
   */
  constructor(
    db: Database.Database,
    private readonly leafHashAt: LeafHashReader,
  ) {
    this.probeOne = db.prepare<[number], number>('SELECT idx FROM tree_dedup WHERE h6 = ? ORDER BY idx').pluck();
    this.probeMany = db
      .prepare<[string], [number, number]>('SELECT h6, idx FROM tree_dedup WHERE h6 IN (SELECT value FROM json_each(?))')
      .raw();
    this.insert = db.prepare<[number, number]>('INSERT INTO tree_dedup (h6, idx) VALUES (?, ?)');
    // Many rows per statement: a quarter less CPU per row than one each.
    this.insertRows = db.prepare<[number[]]>(
      `INSERT INTO tree_dedup (h6, idx) VALUES ${new Array(INSERT_ROWS).fill('(?, ?)').join(', ')}`,
    );
    this.deleteFrom = db.prepare<[number]>('DELETE FROM tree_dedup WHERE idx >= ?');
    this.page = db
      .prepare<[number, number], [number, number]>(
        `SELECT h6, idx FROM tree_dedup WHERE (h6, idx) > (?, ?) ORDER BY h6, idx LIMIT ${DIGEST_PAGE}`,
      )
      .raw();
    this.readFilter = db.prepare<[], [number, Buffer]>('SELECT id, bits FROM tree_dedup_filter').raw();
    this.writeFilter = db.prepare<[number, Uint8Array]>(
      'INSERT INTO tree_dedup_filter (id, bits) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET bits = excluded.bits',
    );
    this.readState = db.prepare<[string], number>('SELECT value FROM tree_state WHERE name = ?').pluck();
    this.writeState = db.prepare<[string, number]>(
      'INSERT INTO tree_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    );
  }

  /** Whether the disk level holds the entry of leaf `index` with prefix h6 (index < size). */
  isOnDisk(index: number, h6: number): boolean {
    return index < this.upto || (index < this.upto + this.chunk && sliceOf(h6) < this.slicesDone);
  }

  private get diskEmpty(): boolean {
    return this.upto === 0 && this.slicesDone === 0;
  }

  /**
   * Rebuilds the memory level from durable state for a tree of `size` leaves.
   * hashesFrom(start, end) yields the stored leaf hashes of [start, end).
   */
  load(size: number, hashesFrom: (start: number, end: number) => Iterable<HashText>): void {
    this.chunk = this.readState.get('dedup_chunk') ?? DEFAULT_DEDUP_CHUNK;
    this.upto = this.readState.get('dedup_upto') ?? 0;
    this.slicesDone = this.readState.get('dedup_slices') ?? 0;
    const inFlight = this.slicesDone > 0 ? this.chunk : 0;
    if (
      !Number.isSafeInteger(this.chunk) ||
      this.chunk < 1 ||
      this.upto % this.chunk !== 0 ||
      !(this.slicesDone >= 0 && this.slicesDone < SLICES) ||
      this.upto + inFlight > size
    ) {
      throw new TreeIntegrityError(
        `dedup state (chunk ${this.chunk}, upto ${this.upto}, slices ${this.slicesDone}) does not fit a tree of ${size}`,
      );
    }
    this.loadFilter();
    this.size = this.upto;
    this.memory.reset(Math.max(size - this.upto, this.chunk));
    for (const h of hashesFrom(this.upto, size)) this.add(h, this.size);
  }

  /**
   * The lowest index of a stored leaf with this hash, or undefined. Disk
   * entries precede memory ones in index order, so a confirmed disk hit wins.
   */
  lookup(hash: HashText): number | undefined {
    const h6 = hashPrefix(hash);
    if (!this.diskEmpty && this.filter.has(h6)) {
      for (const index of this.probeOne.all(h6)) if (this.confirm(index, hash)) return index;
    }
    return this.lookupMemory(h6, hash);
  }

  /** lookup() for many hashes with one disk statement. */
  lookupMany(hashes: readonly HashText[]): Array<number | undefined> {
    const prefixes = hashes.map(hashPrefix);
    const found: Array<number | undefined> = new Array<number | undefined>(hashes.length).fill(undefined);
    const maybeOnDisk = this.diskEmpty ? [] : prefixes.filter((h6) => this.filter.has(h6));
    if (maybeOnDisk.length > 0) {
      const candidates = new Map<number, number[]>();
      for (const [h6, index] of this.probeMany.all(JSON.stringify(maybeOnDisk))) {
        const list = candidates.get(h6);
        if (list === undefined) candidates.set(h6, [index]);
        else list.push(index);
      }
      hashes.forEach((hash, i) => {
        const list = candidates.get(prefixes[i] as number);
        if (list === undefined) return;
        for (const index of list.sort((a, b) => a - b)) {
          if (this.confirm(index, hash)) {
            found[i] = index;
            return;
          }
        }
      });
    }
    hashes.forEach((hash, i) => {
      if (found[i] === undefined) found[i] = this.lookupMemory(prefixes[i] as number, hash);
    });
    return found;
  }

  /** Records the leaf at `index`, which must be the next index (the tree's size). */
  add(hash: HashText, index: number): void {
    if (index !== this.size) throw new Error(`dedup index out of step: adding ${index} at size ${this.size}`);
    const h6 = hashPrefix(hash);
    const at = index - this.upto;
    if (at >= this.recent.length) {
      const bigger = new Float64Array(this.recent.length * 2);
      bigger.set(this.recent);
      this.recent = bigger;
    }
    this.recent[at] = h6;
    this.memory.insert(h6, index);
    this.size++;
  }

  /**
   * Moves the next slice of a full chunk to disk, and more while the memory
   * level holds two chunks or more (after a huge batch), so it stays bounded.
   * Call inside the write transaction that added the leaves.
   */
  flush(): void {
    if (this.size - this.upto >= this.chunk) this.writeNextSlice();
    while (this.size - this.upto >= 2 * this.chunk) this.writeNextSlice();
  }

  private writeNextSlice(): void {
    const s = this.slicesDone;
    const order = this.sortedSlice(s);
    const args = new Array<number>(2 * INSERT_ROWS);
    let at = 0;
    for (; at + INSERT_ROWS <= order.length; at += INSERT_ROWS) {
      for (let j = 0; j < INSERT_ROWS; j++) {
        const i = order[at + j] as number;
        args[2 * j] = this.recent[i] as number;
        args[2 * j + 1] = this.upto + i;
      }
      this.insertRows.run(args);
    }
    for (; at < order.length; at++) {
      const i = order[at] as number;
      this.insert.run(this.recent[i] as number, this.upto + i);
    }
    for (const i of order) this.filter.add(this.recent[i] as number);
    this.writeFilter.run(s, this.filter.slice(s));
    this.slicesDone++;
    if (this.slicesDone === SLICES) {
      this.upto += this.chunk;
      this.slicesDone = 0;
      // The memory level keeps what is left.
      const rest = this.recent.slice(this.chunk, this.chunk + (this.size - this.upto));
      this.recent = new Float64Array(Math.max(this.chunk + 1024, rest.length * 2));
      this.recent.set(rest);
      this.memory.reset(Math.max(rest.length, this.chunk));
      for (let i = 0; i < rest.length; i++) this.memory.insert(rest[i] as number, this.upto + i);
    }
    this.writeState.run('dedup_upto', this.upto);
    this.writeState.run('dedup_slices', this.slicesDone);
  }

  /**
   * Offsets in the chunk of the leaves whose h6 falls in slice s, in
   * ascending h6 order (ties in any order: the table orders by (h6, idx)
   * itself; sorting only buys locality). Packs the top bits of h6 with the
   * offset into one double so the native numeric sort does the work.
   */
  private sortedSlice(s: number): Float64Array {
    const low = s * H6_SPAN;
    const bits = Math.max(1, Math.ceil(Math.log2(this.chunk)));
    const offsets = 2 ** bits;
    const divisor = 2 ** Math.max(0, Math.log2(H6_SPAN) + bits - 53);
    const keys: number[] = [];
    for (let i = 0; i < this.chunk; i++) {
      const h6 = this.recent[i] as number;
      if (sliceOf(h6) === s) keys.push(Math.floor((h6 - low) / divisor) * offsets + i);
    }
    const sorted = Float64Array.from(keys).sort();
    for (let i = 0; i < sorted.length; i++) sorted[i] = (sorted[i] as number) % offsets;
    return sorted;
  }

  /**
   * Drops disk entries of leaves ≥ newSize: nothing when newSize is at or
   * above what the disk level covers, else a scan of tree_dedup. Call inside
   * the write transaction that truncates; then load() for the new size.
   */
  truncateDisk(newSize: number): void {
    if (newSize >= this.upto + (this.slicesDone > 0 ? this.chunk : 0)) return;
    const keep = Math.min(this.upto, Math.floor(newSize / this.chunk) * this.chunk);
    this.deleteFrom.run(keep);
    this.upto = keep;
    this.slicesDone = 0;
    this.writeState.run('dedup_upto', this.upto);
    this.writeState.run('dedup_slices', 0);
  }

  /** Reads the stored filter, or rebuilds it from tree_dedup if rows are missing or malformed. */
  private loadFilter(): void {
    let valid = 0;
    this.filter.bits.fill(0);
    for (const [id, bits] of this.readFilter.all()) {
      if (Number.isInteger(id) && id >= 0 && id < SLICES && Buffer.isBuffer(bits) && bits.length === SLICE_FILTER_BYTES) {
        this.filter.slice(id).set(bits);
        valid++;
      }
    }
    if (valid !== SLICES && !this.diskEmpty) this.rebuildFilter();
  }

  /**
   * Digest of every disk entry, read in pages so memory stays bounded.
   * Throws TreeIntegrityError if the filter lacks an entry's prefix.
   */
  diskDigest(): EntryDigest {
    const digest = new EntryDigest();
    this.forEachDiskEntry((h6, index) => {
      if (!this.filter.has(h6)) throw new TreeIntegrityError(`the dedup filter misses the entry for leaf ${index}`);
      digest.add(h6, index);
    });
    return digest;
  }

  private forEachDiskEntry(visit: (h6: number, index: number) => void): void {
    let last: [number, number] = [-1, -1];
    for (;;) {
      const page = this.page.all(last[0], last[1]);
      for (const [h6, index] of page) visit(h6, index);
      if (page.length < DIGEST_PAGE) return;
      last = page[page.length - 1] as [number, number];
    }
  }

  /** For a file without a stored filter: O(disk entries), in memory only. */
  private rebuildFilter(): void {
    this.filter.bits.fill(0);
    this.forEachDiskEntry((h6) => this.filter.add(h6));
  }

  private lookupMemory(h6: number, hash: HashText): number | undefined {
    let best: number | undefined;
    this.memory.forEach(h6, (index) => {
      if ((best === undefined || index < best) && this.confirm(index, hash)) best = index;
    });
    return best;
  }

  private confirm(index: number, hash: HashText): boolean {
    return this.leafHashAt(index) === hash;
  }
}

/** Leaf hashes seen earlier in one batch, with the index each got. */
export class BatchDedup {
  private readonly seen = new Map<HashText, number>();

  get(hash: HashText): number | undefined {
    return this.seen.get(hash);
  }

  set(hash: HashText, index: number): void {
    this.seen.set(hash, index);
  }
}
