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
// Levels (schema 2): the disk level is itself leveled, as in an LSM tree, so
// that the pages written per leaf stay flat as the tree grows. With one
// B-tree keyed by the random prefix, moving a chunk touched nearly every page
// of it: 0.04 pages per leaf at 1M leaves, 0.33 at 10M (measured; see
// doc/design.md). Now tree_dedup is keyed by (level, h6, idx): chunks move
// into level 1, and a level holding more than chunk·8^level entries moves
// one h6 range at a time (about a slice's worth of its entries, round robin
// by a cursor per level) into the next, as a few steps per append
// transaction, paced by the leaves appended. Each entry is then rewritten
// once per level (about log8(size/chunk) times) and each step dirties about
// 8 slices' worth of pages of the next level, whatever the tree's size. An
// entry lives in exactly one level at any time (a step is one transaction's
// INSERT … SELECT and DELETE), and lookups probe every non-empty level with
// one statement, taking the lowest confirmed index, so which level holds an
// entry never matters for answers. Row counts per level (state
// "dedup_rows_<level>") and cursors ("dedup_cursor_<level>") only pace the
// moves; verifyIntegrity checks the counts.
//
// Most lookups are for new leaves, and a miss in a disk B-tree larger than the
// page cache costs a page read (measured 2.6 µs per leaf at 1M leaves, 16% of
// append time, before this filter). A fixed-size filter over the disk level's
// prefixes (2^27 bits, 16 MiB in tree_dedup_filter, one row per slice's h6
// range; PrefixFilter) skips the probe for most. Its size does not grow with
// the tree; it only loses effect. Bits are never cleared (truncation leaves
// stale ones): a stale bit costs one probe, never a wrong answer. Each row
// takes two bits per prefix (schema 6) while the disk level holds fewer than
// 2^26 entries, one bit beyond, where one admits fewer false positives:
// 0.02% at 1M disk entries, 1.9% at 10M, 39% at 67M, 53% at 100M (one bit
// throughout, schemas 4 and 5: 0.7%, 7%, 39%, 53%; each false positive is a
// search in every level, ~1.2 µs per appended leaf at 10M). State
// "dedup_filter_two_bits" says which rows are in which form. (Schema 3 and
// older had 25 bits, 4 MiB: 26% false positives at 10M. Migrations rebuild the
// filter from the index.)
//
// The stored filter is written once per FILTER_SAVE_CHUNKS chunks, not with
// every slice: every row holds 131,072 new bits per chunk, so saving per slice
// rewrote the whole filter per chunk (128 bytes of WAL per leaf at 16 MiB).
// During the flush of a chunk c with c % FILTER_SAVE_CHUNKS = 0, each slice's
// filter row is written with the slice, after the slice's bits are set; when
// the last slice is written, every row covers every disk entry below
// (c + 1) · chunk, and state "dedup_filter_upto" says so. Invariant: the
// stored rows have the bit of every disk entry whose index is below
// dedup_filter_upto. Opening adds the bits of leaves [dedup_filter_upto, size)
// from their stored leaf hashes (at most ~5 chunks), so no disk entry is ever
// missing from the filter in memory; a truncation below dedup_filter_upto
// lowers it.
//
// Unique leaf hashes (schema 5): state "leaf_hashes_unique" = 1 records that
// no two stored leaves have the same leaf hash. A sequencing log never stores
// a repeat (appendLeaves dedups), so that is the normal case; a replica's
// preordered appends check each batch and clear the state on the first
// repeat, and only a recount (the migration from schema 4, rebuildDerived)
// sets it again (a truncation keeps it: removing leaves cannot create a
// repeat). While it holds, the first confirmed hit is the only one, so a
// lookup tries the memory level and then the disk levels largest first and
// stops there: at 10M leaves most entries are in level 2 of three, which the
// deepest-first order (needed for the lowest index when repeats may exist)
// searched second.
import type Database from 'better-sqlite3';
import { TreeIntegrityError } from './errors.js';
import type { HashText } from './hash.js';
import { PrefixMultimap } from './prefix-multimap.js';

const DIGEST_PAGE = 4096;
const INSERT_ROWS = 128;
/** Chunks between two saves of the filter (see above). */
const FILTER_SAVE_CHUNKS = 4;
/** Slices per chunk move, by h6 range; also the filter's rows. */
const SLICES = 32;
const H6_END = 2 ** 48;
const H6_SPAN = H6_END / SLICES;
/** Entries level L may hold before it moves ranges to level L+1: chunk · LEVEL_RATIO^L. */
const LEVEL_RATIO = 8;
/** Levels a tree of 2^53 leaves needs with chunk 1: log8(2^53) < 18. */
export const MAX_DEDUP_LEVEL = 18;
/** Every disk level, as an SQL list (`level IN (…)` keeps primary-key searches per level). */
const EVERY_LEVEL = Array.from({ length: MAX_DEDUP_LEVEL }, (_, i) => i + 1).join(', ');
/** Level moves run while a level's credit is positive; credit grows by this times the leaves appended. */
const MOVE_PACE = 1.5;
/** Range moves per level in one append transaction beyond the pace (bounds the slowest batch). */
const MOVES_PER_BATCH = 4;

/** Default leaves per flush of the memory level: ~5 MB of typed arrays, allocated once. */
export const DEFAULT_DEDUP_CHUNK = 131072;

/** The disk level's table (schema 2); level defaults to 1, where chunks arrive. */
export const DEDUP_TABLE_SQL =
  'CREATE TABLE tree_dedup (level INTEGER NOT NULL DEFAULT 1, h6 INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (level, h6, idx)) WITHOUT ROWID';

/**
 * Schema 1 → 2, inside the caller's transaction: tree_dedup gains its level
 * column. Every existing entry goes to the lowest level whose capacity holds
 * them all, so no level moves follow; O(entries), once (measured ~1 s per
 * million entries).
 */
export function migrateDedupToLevels(db: Database.Database): void {
  const chunkValue: unknown = db.prepare("SELECT value FROM tree_state WHERE name = 'dedup_chunk'").pluck().get();
  const chunk = typeof chunkValue === 'number' && Number.isSafeInteger(chunkValue) && chunkValue >= 1 ? chunkValue : DEFAULT_DEDUP_CHUNK;
  const rows = db.prepare('SELECT count(*) FROM tree_dedup').pluck().get() as number;
  let level = 1;
  while (level < MAX_DEDUP_LEVEL && chunk * LEVEL_RATIO ** level < rows) level++;
  db.exec(`${DEDUP_TABLE_SQL.replace('tree_dedup', 'tree_dedup_v2')};
INSERT INTO tree_dedup_v2 (level, h6, idx) SELECT ${level}, h6, idx FROM tree_dedup ORDER BY h6, idx;
DROP TABLE tree_dedup;
ALTER TABLE tree_dedup_v2 RENAME TO tree_dedup;`);
  db.prepare(
    'INSERT INTO tree_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
  ).run(`dedup_rows_${level}`, rows);
}

/** The first 6 bytes of a hash as an integer in [0, 2^48). */
export function hashPrefix(hash: HashText): number {
  return (
    (hash.charCodeAt(0) * 0x10000 + hash.charCodeAt(1) * 0x100 + hash.charCodeAt(2)) * 0x1000000 +
    (hash.charCodeAt(3) * 0x10000 + hash.charCodeAt(4) * 0x100 + hash.charCodeAt(5))
  );
}

const FILTER_BITS_LOG2 = 27;
const FILTER_BYTES = 2 ** (FILTER_BITS_LOG2 - 3);
const FILTER_SHIFT = 2 ** (48 - FILTER_BITS_LOG2);
/** Bytes of the filter covering one slice's h6 range (bits are in h6 order). */
const SLICE_FILTER_BYTES = FILTER_BYTES / SLICES;

/**
 * Schemas 3 → 4 and 5 → 6, inside the caller's transaction: the filter is
 * rebuilt from tree_dedup in the current form (27 bits since schema 4, two
 * bits per prefix below ONE_BIT_FROM_ENTRIES since schema 6) and stored
 * whole, so a migrated log gets the new false-positive rate at once (the old
 * bits cannot be converted: bits are never cleared, and which entries set
 * them is not recorded). O(disk entries), once (measured in doc/design.md).
 * The rows then cover every disk entry, so dedup_filter_upto becomes
 * dedup_upto.
 */
export function rebuildStoredFilter(db: Database.Database): void {
  const entries = db.prepare('SELECT count(*) FROM tree_dedup').pluck().get() as number;
  const filter = new PrefixFilter();
  filter.reset(entries < ONE_BIT_FROM_ENTRIES ? ALL_SLICES_TWO_BITS : 0);
  for (const h6 of db.prepare('SELECT h6 FROM tree_dedup').pluck().iterate() as Iterable<unknown>) {
    if (typeof h6 === 'number' && h6 >= 0 && h6 < H6_END) filter.add(h6); // anything else is fsck's to report
  }
  db.exec('DELETE FROM tree_dedup_filter');
  const write = db.prepare<[number, Uint8Array]>('INSERT INTO tree_dedup_filter (id, bits) VALUES (?, ?)');
  for (let slice = 0; slice < SLICES; slice++) write.run(slice, filter.slice(slice));
  const upto: unknown = db.prepare("SELECT value FROM tree_state WHERE name = 'dedup_upto'").pluck().get();
  const setState = db.prepare<[string, number]>(
    'INSERT INTO tree_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
  );
  setState.run('dedup_filter_upto', typeof upto === 'number' && Number.isSafeInteger(upto) && upto >= 0 ? upto : 0);
  setState.run('dedup_filter_two_bits', filter.twoBits);
}

function sliceOf(h6: number): number {
  return Math.floor(h6 / H6_SPAN);
}

/** Slices whose filter row uses two bits per prefix, as a 32-bit mask (state "dedup_filter_two_bits"). */
export const ALL_SLICES_TWO_BITS = 2 ** SLICES - 1;
/**
 * Disk entries from which two bits per prefix would admit more false
 * positives than one (half the filter's bits: (1 − e^(−2n/m))² passes
 * 1 − e^(−n/m) at n ≈ 0.5·m); slices then go back to one bit, one at a time.
 */
export const ONE_BIT_FROM_ENTRIES = 2 ** (FILTER_BITS_LOG2 - 1);
/** Disk entries re-read per appended leaf while a slice goes back to one bit (paces the work). */
const ONE_BIT_ROWS_PER_LEAF = 4;
const SLICE_BITS = 2 ** FILTER_BITS_LOG2 / SLICES;

/**
 * "Some disk entry may have this prefix": a fixed 2^27-bit filter, 32 rows by
 * h6 range (slices). The first bit of a prefix is that of its top 27 bits; a
 * slice in two-bit form also sets a second bit in the same row, chosen by the
 * low 22 bits of h6 (a Bloom filter with k = 2 whose bits stay in the slice's
 * row, so a flush still changes only its own row). Two bits admit fewer false
 * positives while the disk level holds fewer than ONE_BIT_FROM_ENTRIES (1.9%
 * against 7.2% at 10M entries), one bit beyond. Every form sets the first bit,
 * so reading a two-bit row as one-bit never misses an entry (the reverse
 * would); a slice changes form only by a rebuild (beginOneBit … finishOneBit).
 */
class PrefixFilter {
  readonly bits = new Uint8Array(FILTER_BYTES);
  /** Bit s set: slice s is in two-bit form. */
  twoBits = ALL_SLICES_TWO_BITS;
  // The one-bit row being rebuilt for slice `pendingSlice` (-1: none).
  private pending = new Uint8Array(0);
  private pendingSlice = -1;

  slice(s: number): Uint8Array {
    return this.bits.subarray(s * SLICE_FILTER_BYTES, (s + 1) * SLICE_FILTER_BYTES);
  }

  add(h6: number): void {
    const bit = Math.floor(h6 / FILTER_SHIFT);
    const s = Math.floor(bit / SLICE_BITS);
    setBit(this.bits, bit);
    if (this.isTwoBit(s)) setBit(this.bits, secondBit(bit, h6));
    if (s === this.pendingSlice) setBit(this.pending, bit - s * SLICE_BITS);
  }

  has(h6: number): boolean {
    const bit = Math.floor(h6 / FILTER_SHIFT);
    if (!hasBit(this.bits, bit)) return false;
    return !this.isTwoBit(Math.floor(bit / SLICE_BITS)) || hasBit(this.bits, secondBit(bit, h6));
  }

  isTwoBit(s: number): boolean {
    return Math.floor(this.twoBits / 2 ** s) % 2 === 1;
  }

  /** Starts the one-bit row of two-bit slice s: addPending for each disk entry, add() records new ones too. */
  beginOneBit(s: number): void {
    this.pending = new Uint8Array(SLICE_FILTER_BYTES);
    this.pendingSlice = s;
  }

  get oneBitSlice(): number {
    return this.pendingSlice;
  }

  addPending(h6: number): void {
    const bit = Math.floor(h6 / FILTER_SHIFT);
    if (Math.floor(bit / SLICE_BITS) === this.pendingSlice) setBit(this.pending, bit - this.pendingSlice * SLICE_BITS);
  }

  /** Slice s takes its rebuilt one-bit row; returns it (to be stored with the new mask). */
  finishOneBit(): Uint8Array {
    const s = this.pendingSlice;
    this.slice(s).set(this.pending);
    this.twoBits -= 2 ** s;
    this.dropPending();
    return this.slice(s);
  }

  dropPending(): void {
    this.pending = new Uint8Array(0);
    this.pendingSlice = -1;
  }

  /** Empty, every slice in the given form (a mask as in ALL_SLICES_TWO_BITS). */
  reset(twoBits: number): void {
    this.bits.fill(0);
    this.twoBits = twoBits;
    this.dropPending();
  }
}

function setBit(bits: Uint8Array, bit: number): void {
  bits[bit >>> 3] = (bits[bit >>> 3] as number) | (1 << (bit & 7));
}

function hasBit(bits: Uint8Array, bit: number): boolean {
  return ((bits[bit >>> 3] as number) & (1 << (bit & 7))) !== 0;
}

/** The second bit of a prefix whose first bit is `bit`: the same slice, at h6's low 22 bits. */
function secondBit(bit: number, h6: number): number {
  return bit - (bit % SLICE_BITS) + (h6 % SLICE_BITS);
}

/**
 * Reads the stored leaf hash at an index below the current size. Candidates
 * found by prefix are confirmed through it.
 */
export type LeafHashReader = (index: number) => HashText;

/** Calls visit with hashPrefix of the stored leaf hash of each index in [start, end), in order. */
export type LeafPrefixReader = (start: number, end: number, visit: (h6: number) => void) => void;

export class LeafHashIndex {
  private chunk = DEFAULT_DEDUP_CHUNK;
  private upto = 0;
  private slicesDone = 0; // of the chunk [upto, upto + chunk)
  private filterUpto = 0; // the stored filter rows cover every disk entry below this index
  private size = 0;
  private readonly memory = new PrefixMultimap();
  private readonly filter = new PrefixFilter();
  // h6 of leaves [upto, size) in index order: the flush order source.
  private recent = new Float64Array(1024);

  // Rows per disk level (index = level; 0 unused) and each level's move cursor.
  private levelRows: number[] = [];
  private cursors: number[] = [];
  private credits: number[] = [];
  // State "leaf_hashes_unique" as loaded; disk levels by entries, most first.
  private unique = false;
  private bySize: number[] = [];
  private readonly levelEntries: Database.Statement<[number, number, number], [number, number]>;
  private readonly entriesOutsideLevels: Database.Statement<[], [number, number, number]>;
  private probes: Database.Statement<[string], [number, number]> | undefined;
  // State "dedup_filter_two_bits" as loaded: the form of each stored filter row.
  private storedTwoBits = ALL_SLICES_TWO_BITS;
  // Where the one-bit rebuild of filter.oneBitSlice has read the disk entries up to (h6).
  private oneBitCursor = 0;
  private readonly sliceEntries: Database.Statement<[number, number], number>;

  private readonly db: Database.Database;
  private readonly probeLevel: Database.Statement<[number, number], number>;
  private readonly moveRange: Database.Statement<[number, number, number, number]>;
  private readonly deleteRange: Database.Statement<[number, number, number]>;
  private readonly readLevelState: Database.Statement<[], [string, number]>;
  private readonly countLevels: Database.Statement<[], [number, number]>;
  private readonly probeEntry: Database.Statement<[number, number], number>;
  private readonly insert: Database.Statement<[number, number]>;
  private readonly insertRows: Database.Statement<[number[]]>;
  private readonly deleteFrom: Database.Statement<[number]>;
  private readonly page: Database.Statement<[number, number, number], [number, number, number]>;
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
    /** Disk entries from which filter rows go back to one bit (tests lower it). */
    private readonly oneBitFrom = ONE_BIT_FROM_ENTRIES,
  ) {
    if (!Number.isSafeInteger(oneBitFrom) || oneBitFrom < 1) throw new RangeError(`invalid filter one-bit threshold ${oneBitFrom}`);
    this.db = db;
    this.insert = db.prepare<[number, number]>('INSERT INTO tree_dedup (level, h6, idx) VALUES (1, ?, ?)');
    // Many rows per statement: a quarter less CPU per row than one each.
    this.insertRows = db.prepare<[number[]]>(
      `INSERT INTO tree_dedup (level, h6, idx) VALUES ${new Array(INSERT_ROWS).fill('(1, ?, ?)').join(', ')}`,
    );
    this.deleteFrom = db.prepare<[number]>('DELETE FROM tree_dedup WHERE idx >= ?');
    this.page = db
      .prepare<[number, number, number], [number, number, number]>(
        `SELECT level, h6, idx FROM tree_dedup WHERE (level, h6, idx) > (?, ?, ?) ORDER BY level, h6, idx LIMIT ${DIGEST_PAGE}`,
      )
      .raw();
    this.probeLevel = db.prepare<[number, number], number>('SELECT idx FROM tree_dedup WHERE level = ? AND h6 = ?').pluck();
    this.sliceEntries = db
      .prepare<[number, number], number>(`SELECT h6 FROM tree_dedup WHERE level IN (${EVERY_LEVEL}) AND h6 >= ? AND h6 < ?`)
      .pluck();
    this.entriesOutsideLevels = db
      .prepare<[], [number, number, number]>(`SELECT level, h6, idx FROM tree_dedup WHERE level NOT BETWEEN 1 AND ${MAX_DEDUP_LEVEL}`)
      .raw();
    this.levelEntries = db
      .prepare<[number, number, number], [number, number]>(
        `SELECT h6, idx FROM tree_dedup WHERE level = ? AND (h6, idx) > (?, ?) ORDER BY h6, idx LIMIT ${DIGEST_PAGE}`,
      )
      .raw();
    // In primary-key order, so the next level sees ascending inserts.
    this.moveRange = db.prepare<[number, number, number, number]>(
      'INSERT INTO tree_dedup (level, h6, idx) SELECT ?, h6, idx FROM tree_dedup WHERE level = ? AND h6 >= ? AND h6 < ? ORDER BY h6, idx',
    );
    this.deleteRange = db.prepare<[number, number, number]>('DELETE FROM tree_dedup WHERE level = ? AND h6 >= ? AND h6 < ?');
    this.readLevelState = db
      .prepare<[], [string, number]>("SELECT name, value FROM tree_state WHERE name GLOB 'dedup_rows_*' OR name GLOB 'dedup_cursor_*'")
      .raw();
    this.countLevels = db.prepare<[], [number, number]>('SELECT level, count(*) FROM tree_dedup GROUP BY level').raw();
    this.probeEntry = db.prepare<[number, number], number>(`SELECT 1 FROM tree_dedup WHERE level IN (${EVERY_LEVEL}) AND h6 = ? AND idx = ?`).pluck();
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

  /** Leaves from this index on are in the memory level (those below it only on disk). */
  get memoryFrom(): number {
    return this.upto;
  }

  /** Whether some disk level holds exactly the entry (h6, index). */
  hasDiskEntry(h6: number, index: number): boolean {
    return this.probeEntry.get(h6, index) !== undefined;
  }

  /** Whether the filter admits prefix h6 (it must for every disk entry). */
  filterHas(h6: number): boolean {
    return this.filter.has(h6);
  }

  private get diskEmpty(): boolean {
    return this.upto === 0 && this.slicesDone === 0;
  }

  /**
   * Rebuilds the memory level from durable state for a tree of `size` leaves.
   * prefixesFrom(start, end, visit) calls visit with hashPrefix of each stored
   * leaf hash of [start, end), in index order.
   */
  load(size: number, prefixesFrom: LeafPrefixReader): void {
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
    this.filterUpto = this.readState.get('dedup_filter_upto') ?? 0;
    if (!Number.isSafeInteger(this.filterUpto) || this.filterUpto < 0 || this.filterUpto > this.upto) {
      throw new TreeIntegrityError(`dedup filter state (upto ${this.filterUpto}) does not fit the disk level (upto ${this.upto})`);
    }
    const twoBits = this.readState.get('dedup_filter_two_bits');
    if (twoBits === undefined || !Number.isSafeInteger(twoBits) || twoBits < 0 || twoBits > ALL_SLICES_TWO_BITS) {
      throw new TreeIntegrityError(`dedup filter form (${String(twoBits)}) is not a mask of ${SLICES} slices`);
    }
    this.storedTwoBits = twoBits;
    this.unique = this.readState.get('leaf_hashes_unique') === 1;
    this.loadLevels();
    this.loadFilter();
    this.size = this.upto;
    this.memory.reset(Math.max(size - this.upto, this.chunk));
    // Leaves the stored filter may not cover get their bits from their stored
    // hashes (a superset: those still in memory only cost a probe until they
    // move to disk); those from upto on are the memory level.
    let index = this.filterUpto;
    prefixesFrom(this.filterUpto, size, (h6) => {
      this.filter.add(h6);
      if (index++ >= this.upto) this.addPrefix(h6, this.size);
    });
    if (index !== size) throw new Error(`internal error: the leaf-hash index loaded ${index - this.filterUpto} of ${size - this.filterUpto} prefixes`);
  }

  /**
   * The lowest index of a stored leaf with this hash, or undefined. For one
   * prefix, a deeper level only holds older entries than a shallower one (a
   * move takes every entry of its range, so what arrives later stays above),
   * and disk entries precede memory ones: levels are probed deepest first and
   * the first confirmed hit wins. Most stored leaves are in the deepest
   * levels, so a hit usually costs one search, not one per level.
   */
  lookup(hash: HashText): number | undefined {
    const h6 = hashPrefix(hash);
    if (this.unique) {
      // At most one leaf has this hash: cheapest places first, stop at it.
      const inMemory = this.lookupMemory(h6, hash);
      if (inMemory !== undefined || this.diskEmpty || !this.filter.has(h6)) return inMemory;
      for (const level of this.bySize) {
        for (const index of this.probeLevel.all(level, h6)) if (this.confirm(index, hash)) return index;
      }
      return undefined;
    }
    if (!this.diskEmpty && this.filter.has(h6)) {
      for (let level = this.deepestLevel(); level >= 1; level--) {
        const indices = this.probeLevel.all(level, h6);
        if (indices.length > 1) indices.sort((a, b) => a - b);
        for (const index of indices) if (this.confirm(index, hash)) return index;
      }
    }
    return this.lookupMemory(h6, hash);
  }

  private deepestLevel(): number {
    let deepest = 1;
    for (let level = 1; level <= MAX_DEDUP_LEVEL; level++) if ((this.levelRows[level] ?? 0) > 0) deepest = level;
    return deepest;
  }

  /** lookup() for many hashes with one disk statement. */
  lookupMany(hashes: readonly HashText[]): Array<number | undefined> {
    const prefixes = hashes.map(hashPrefix);
    const found: Array<number | undefined> = new Array<number | undefined>(hashes.length).fill(undefined);
    const maybeOnDisk = this.diskEmpty ? [] : prefixes.filter((h6) => this.filter.has(h6));
    if (maybeOnDisk.length > 0) {
      const candidates = new Map<number, number[]>();
      for (const [h6, index] of this.probeStatements().all(JSON.stringify(maybeOnDisk))) {
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
    this.addPrefix(hashPrefix(hash), index);
  }

  private addPrefix(h6: number, index: number): void {
    if (index !== this.size) throw new Error(`dedup index out of step: adding ${index} at size ${this.size}`);
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
  flush(added = 0): void {
    if (this.size - this.upto >= this.chunk) this.writeNextSlice();
    while (this.size - this.upto >= 2 * this.chunk) this.writeNextSlice();
    this.moveLevels(added);
    this.stepToOneBit(added);
  }

  private diskEntries(): number {
    let entries = 0;
    for (let level = 1; level <= MAX_DEDUP_LEVEL; level++) entries += this.levelRows[level] ?? 0;
    return entries;
  }

  /**
   * Once the disk level holds ONE_BIT_FROM_ENTRIES entries, the slices still
   * in two-bit form go back to one bit, lowest first, one at a time: the
   * slice's one-bit row is rebuilt from its disk entries, about
   * ONE_BIT_ROWS_PER_LEAF entries per leaf appended (so no batch pays for a
   * whole slice), while lookups keep its two-bit row; the transaction that
   * reads the last of them stores the new row and the new form together.
   * The progress lives in memory: after a restart the slice starts again.
   */
  private stepToOneBit(added: number): void {
    if (this.filter.twoBits === 0) return;
    const entries = this.diskEntries();
    if (this.filter.oneBitSlice < 0) {
      if (entries < this.oneBitFrom) return;
      let s = 0;
      while (!this.filter.isTwoBit(s)) s++;
      this.filter.beginOneBit(s);
      this.oneBitCursor = s * H6_SPAN;
    }
    const s = this.filter.oneBitSlice;
    const end = (s + 1) * H6_SPAN;
    const rows = ONE_BIT_ROWS_PER_LEAF * Math.max(1, added);
    const width = Math.max(1, Math.floor((H6_SPAN / Math.max(1, entries / SLICES)) * rows));
    const hi = Math.min(end, this.oneBitCursor + width);
    for (const h6 of this.sliceEntries.all(this.oneBitCursor, hi)) this.filter.addPending(h6);
    this.oneBitCursor = hi;
    if (hi < end) return;
    this.writeFilter.run(s, this.filter.finishOneBit());
    this.storedTwoBits = this.filter.twoBits;
    this.writeState.run('dedup_filter_two_bits', this.storedTwoBits);
  }

  /** Entries level may hold before it moves ranges down. */
  private capacity(level: number): number {
    return this.chunk * LEVEL_RATIO ** level;
  }

  /**
   * For every level over its capacity: credit for MOVE_PACE × the leaves
   * just appended, spent on range moves into the next level (at most
   * MOVES_PER_BATCH per level per transaction). A level receives at most
   * what the one above moves, so each drains faster than it fills. Credits
   * live in memory: after a restart moves resume with the next batch.
   */
  private moveLevels(added: number): void {
    const step = Math.max(1, Math.ceil(this.chunk / SLICES));
    for (let level = 1; level < MAX_DEDUP_LEVEL; level++) {
      if ((this.levelRows[level] ?? 0) <= this.capacity(level)) {
        this.credits[level] = 0;
        continue;
      }
      const pace = MOVE_PACE * added;
      let credit = Math.min((this.credits[level] ?? 0) + pace, 2 * Math.max(step, pace));
      const maxMoves = MOVES_PER_BATCH + Math.ceil(pace / step);
      for (let moves = 0; credit > 0 && moves < maxMoves && (this.levelRows[level] ?? 0) > this.capacity(level); moves++) {
        credit -= Math.max(1, this.moveNextRange(level, step));
      }
      this.credits[level] = credit;
    }
  }

  /** Moves the entries of level in the next h6 range (about `step` of them) to level + 1. */
  private moveNextRange(level: number, step: number): number {
    const rows = this.levelRows[level] ?? 0;
    const lo = this.cursors[level] ?? 0;
    const width = Math.max(1, Math.min(H6_END, Math.floor((H6_END / Math.max(1, rows)) * step)));
    const hi = Math.min(H6_END, lo + width);
    const moved = this.moveRange.run(level + 1, level, lo, hi).changes;
    const deleted = this.deleteRange.run(level, lo, hi).changes;
    if (deleted !== moved) throw new Error(`internal error: dedup level ${level} moved ${moved} entries but deleted ${deleted}`);
    this.setLevelRows(level, rows - moved);
    this.setLevelRows(level + 1, (this.levelRows[level + 1] ?? 0) + moved);
    this.cursors[level] = hi >= H6_END ? 0 : hi;
    this.writeState.run(`dedup_cursor_${level}`, this.cursors[level] as number);
    return moved;
  }

  private setLevelRows(level: number, rows: number): void {
    const before = this.levelRows[level] ?? 0;
    this.levelRows[level] = rows;
    this.writeState.run(`dedup_rows_${level}`, rows);
    if ((before === 0) !== (rows === 0)) this.probes = undefined;
    this.orderLevels();
  }

  /** The non-empty disk levels, most entries first: the order of unique lookups. */
  private orderLevels(): void {
    this.bySize = [];
    for (let level = 1; level <= MAX_DEDUP_LEVEL; level++) if ((this.levelRows[level] ?? 0) > 0) this.bySize.push(level);
    this.bySize.sort((a, b) => (this.levelRows[b] as number) - (this.levelRows[a] as number));
  }

  /** Probe statements over levels 1 … deepest non-empty one (rebuilt when that changes). */
  private probeStatements(): Database.Statement<[string], [number, number]> {
    if (this.probes !== undefined) return this.probes;
    // Every level up to the deepest non-empty one (normally all are in use),
    // as an IN list on the first key column: one primary-key search per level.
    const levelList = Array.from({ length: this.deepestLevel() }, (_v, i) => i + 1).join(', ');
    this.probes = this.db
      .prepare<[string], [number, number]>(
        `SELECT h6, idx FROM tree_dedup WHERE level IN (${levelList}) AND h6 IN (SELECT value FROM json_each(?))`,
      )
      .raw();
    return this.probes;
  }

  /**
   * Row counts and cursors per level from tree_state; recounted from the
   * table when they are missing or malformed (a file from before levels
   * existed, or a damaged state).
   */
  private loadLevels(): void {
    this.levelRows = new Array<number>(MAX_DEDUP_LEVEL + 1).fill(0);
    this.cursors = new Array<number>(MAX_DEDUP_LEVEL + 1).fill(0);
    this.credits = [];
    this.probes = undefined;
    let valid = true;
    for (const [name, value] of this.readLevelState.all()) {
      const m = /^dedup_(rows|cursor)_([0-9]+)$/.exec(name);
      const level = m === null ? NaN : Number(m[2]);
      const limit = m?.[1] === 'rows' ? Number.MAX_SAFE_INTEGER : H6_END - 1;
      if (!(level >= 1 && level <= MAX_DEDUP_LEVEL && Number.isSafeInteger(value) && value >= 0 && value <= limit)) {
        valid = false;
        continue;
      }
      if (m?.[1] === 'rows') this.levelRows[level] = value;
      else this.cursors[level] = value;
    }
    const total = this.levelRows.reduce((a, b) => a + b, 0);
    const expected = this.upto + (this.slicesDone > 0 ? this.chunk : 0); // upper bound of disk entries
    if (!valid || total > expected || (total === 0 && !this.diskEmpty)) this.recountLevels();
    this.orderLevels();
  }

  /** O(disk entries): rewrites the per-level row counts from the table. Inside a write, or read-only repair in memory. */
  private recountLevels(): void {
    this.levelRows.fill(0);
    for (const [level, rows] of this.countLevels.all()) {
      if (!(Number.isInteger(level) && level >= 1 && level <= MAX_DEDUP_LEVEL)) {
        throw new TreeIntegrityError(`the leaf-hash index has entries at level ${String(level)}`);
      }
      this.levelRows[level] = rows;
    }
    this.probes = undefined;
    this.orderLevels();
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
    const savesFilter = (this.upto / this.chunk) % FILTER_SAVE_CHUNKS === 0;
    if (savesFilter) this.writeFilter.run(s, this.filter.slice(s));
    if (order.length > 0) this.setLevelRows(1, (this.levelRows[1] ?? 0) + order.length);
    this.slicesDone++;
    if (this.slicesDone === SLICES) {
      this.upto += this.chunk;
      this.slicesDone = 0;
      if (savesFilter) {
        // Every row was written during this chunk, each after its slice: all cover [0, upto).
        this.filterUpto = this.upto;
        this.writeState.run('dedup_filter_upto', this.filterUpto);
      }
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
    // Leaves appended again from keep on are not in the stored rows.
    this.filterUpto = Math.min(this.filterUpto, keep);
    this.writeState.run('dedup_filter_upto', this.filterUpto);
    this.writeState.run('dedup_upto', this.upto);
    this.writeState.run('dedup_slices', 0);
    this.recountLevels();
    for (let level = 1; level <= MAX_DEDUP_LEVEL; level++) this.writeState.run(`dedup_rows_${level}`, this.levelRows[level] as number);
  }

  /**
   * Reads the stored filter rows; load() then adds the leaves from
   * dedup_filter_upto on. With nothing stored to rely on (dedup_filter_upto
   * 0) the rows are not read. If rows are missing or malformed the filter is
   * rebuilt from tree_dedup (O(disk entries), in memory only).
   */
  private loadFilter(): void {
    this.filter.reset(this.storedTwoBits);
    if (this.filterUpto === 0) return;
    let valid = 0;
    for (const [id, bits] of this.readFilter.iterate()) {
      if (Number.isInteger(id) && id >= 0 && id < SLICES && Buffer.isBuffer(bits) && bits.length === SLICE_FILTER_BYTES) {
        this.filter.slice(id).set(bits);
        valid++;
      }
    }
    if (valid !== SLICES) this.rebuildFilter();
  }

  /** Whether the state says no two stored leaves have the same leaf hash. */
  get leafHashesUnique(): boolean {
    return this.unique;
  }

  /**
   * For appends that do not dedup (a replica's): true if some of these leaf
   * hashes, about to be appended in this order, repeats a stored one or an
   * earlier one of the list. Only asked while the state says unique.
   */
  wouldRepeat(hashes: readonly HashText[]): boolean {
    if (new Set(hashes).size !== hashes.length) return true;
    return this.lookupMany(hashes).some((found) => found !== undefined);
  }

  /** Clears "leaf_hashes_unique"; inside the write transaction that appends the repeat. */
  markRepeated(): void {
    if (!this.unique) return;
    this.unique = false;
    this.writeState.run('leaf_hashes_unique', 0);
  }

  /**
   * Recounts and records whether the stored leaf hashes are unique; inside a
   * write transaction, after load(). O(stored leaves): one ordered pass over
   * every level. Returns the first repeat found, if any.
   */
  recordUniqueness(): { first: number; again: number } | undefined {
    const repeat = this.findRepeat();
    this.unique = repeat === undefined;
    this.writeState.run('leaf_hashes_unique', this.unique ? 1 : 0);
    return repeat;
  }

  /**
   * Some pair of stored leaves with equal leaf hashes (first < again), or
   * undefined: one pass of forEachEntryByPrefix, candidates of equal prefix
   * confirmed by their stored hashes.
   */
  findRepeat(): { first: number; again: number } | undefined {
    let repeat: { first: number; again: number } | undefined;
    const scan = new RepeatScan(this.leafHashAt, (first, again) => {
      if (repeat === undefined) repeat = { first, again };
    });
    this.forEachEntryByPrefix((h6, index) => scan.add(h6, index));
    scan.end();
    return repeat;
  }

  /**
   * Every entry, the disk levels' and the memory level's (level 0), merged in
   * ascending prefix order (ties in any order), the disk levels read in pages
   * so memory stays bounded. Every level is read, whatever its recorded count
   * says: fsck runs this on files that may be damaged, so rows that cannot be
   * ordered (a level outside 1..MAX_DEDUP_LEVEL, a prefix or index that is
   * not a non-negative integer) are visited as they are found. An entry of
   * the chunk being moved (index ≥ memoryFrom) is visited twice: from its
   * disk level and from the memory level.
   */
  forEachEntryByPrefix(visit: (h6: number, index: number, level: number) => void): void {
    for (const [level, h6, index] of this.entriesOutsideLevels.iterate()) visit(h6, index, level);
    let streams: PrefixStream[] = [new MemoryStream(this.recent.subarray(0, this.size - this.upto), this.upto)];
    for (let level = 1; level <= MAX_DEDUP_LEVEL; level++) {
      streams.push(new LevelStream(this.levelEntries, level, (h6, index) => visit(h6, index, level)));
    }
    streams = streams.filter((stream) => stream.h6 >= 0);
    for (;;) {
      let next: PrefixStream | undefined;
      for (const stream of streams) if (next === undefined || stream.h6 < next.h6) next = stream;
      if (next === undefined) return;
      visit(next.h6, next.index, next.level);
      next.advance();
      if (next.h6 < 0) streams = streams.filter((stream) => stream !== next);
    }
  }

  /** The entries each disk level (1..MAX_DEDUP_LEVEL) should hold, by its state. */
  expectedLevelRows(level: number): number {
    return this.levelRows[level] ?? 0;
  }

  /** Every disk entry, level by level in (h6, index) order, read in pages so memory stays bounded. */
  forEachDiskEntry(visit: (h6: number, index: number, level: number) => void): void {
    let last: [number, number, number] = [Number.MIN_SAFE_INTEGER, -1, -1];
    for (;;) {
      const page = this.page.all(last[0], last[1], last[2]);
      for (const [level, h6, index] of page) visit(h6, index, level);
      if (page.length < DIGEST_PAGE) return;
      last = page[page.length - 1] as [number, number, number];
    }
  }

  /** For a file without a stored filter: O(disk entries), in memory only. */
  private rebuildFilter(): void {
    this.filter.reset(this.storedTwoBits);
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

/** Stored leaves' (prefix, index) in ascending prefix order; h6 is -1 at the end. */
interface PrefixStream {
  readonly h6: number;
  readonly index: number;
  readonly level: number;
  advance(): void;
}

/** One disk level's entries, read a page at a time; rows that cannot be ordered go to `odd` as they come. */
class LevelStream implements PrefixStream {
  h6 = -1;
  index = -1;
  private page: Array<[number, number]> = [];
  private at = 0;
  private done = false;

  constructor(
    private readonly entries: Database.Statement<[number, number, number], [number, number]>,
    readonly level: number,
    private readonly odd: (h6: number, index: number) => void,
  ) {
    this.page = entries.all(level, -1, -1);
    this.advance();
  }

  advance(): void {
    for (;;) {
      if (this.at === this.page.length) {
        if (this.done || this.page.length < DIGEST_PAGE) {
          this.done = true;
          this.h6 = -1;
          return;
        }
        const last = this.page[this.page.length - 1] as [number, number];
        this.page = this.entries.all(this.level, last[0], last[1]);
        this.at = 0;
        continue;
      }
      const [h6, index] = this.page[this.at++] as [number, number];
      if (!(Number.isSafeInteger(h6) && h6 >= 0 && Number.isSafeInteger(index))) {
        this.odd(h6, index);
        continue;
      }
      this.h6 = h6;
      this.index = index;
      return;
    }
  }
}

/** The memory level's entries (prefixes of leaves from `from` on, in index order), sorted once. */
class MemoryStream implements PrefixStream {
  h6 = -1;
  index = -1;
  readonly level = 0;
  private readonly order: number[];
  private at = 0;

  constructor(
    private readonly prefixes: Float64Array,
    private readonly from: number,
  ) {
    this.order = Array.from({ length: prefixes.length }, (_v, i) => i).sort((a, b) => (prefixes[a] as number) - (prefixes[b] as number));
    this.advance();
  }

  advance(): void {
    if (this.at === this.order.length) {
      this.h6 = -1;
      return;
    }
    const i = this.order[this.at++] as number;
    this.h6 = this.prefixes[i] as number;
    this.index = this.from + i;
  }
}

/**
 * Finds repeated leaf hashes among entries fed in ascending prefix order:
 * entries of one prefix are collected (a run is a few entries at most, more
 * only for deliberate prefix collisions), and at the run's end their stored
 * hashes are compared; found(first, again) is called for every leaf whose
 * hash an earlier leaf of the run has. The same index fed twice counts once;
 * hashAt may return undefined for a hash it cannot read (that entry is
 * skipped).
 */
export class RepeatScan {
  private prefix = -1;
  private run: number[] = [];

  constructor(
    private readonly hashAt: (index: number) => HashText | undefined,
    private readonly found: (first: number, again: number) => void,
  ) {}

  add(h6: number, index: number): void {
    if (h6 !== this.prefix) {
      this.end();
      this.prefix = h6;
    }
    this.run.push(index);
  }

  /** Checks the last run; call once after the last add. */
  end(): void {
    const run = this.run;
    this.run = [];
    if (run.length < 2) return;
    const seen = new Map<HashText, number>();
    let previous = -1;
    for (const index of run.sort((a, b) => a - b)) {
      if (index === previous) continue;
      previous = index;
      const hash = this.hashAt(index);
      if (hash === undefined) continue;
      const first = seen.get(hash);
      if (first !== undefined) this.found(first, index);
      else seen.set(hash, index);
    }
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
