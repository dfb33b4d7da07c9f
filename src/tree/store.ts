// TreeStore: the log's Merkle tree, durably, in one SQLite file.
//
// Storage (schema version 6; tables prefixed tree_):
// - tree_leaf_tiles(k, leaves): leaves [wk, wk+w), length-prefixed, in the
//   file's leaf format (leaf-tiles.ts): w = 31 (30 in files from schema 2 and
//   older) Sigsum leaves fill one 4 KiB page.
// - tree_hash_tiles(id, hashes): the hash of every complete subtree, in
//   6-level tiles of one page each (tiles.ts): a proof reads about one row per
//   6 levels and never rehashes leaves; tiles on the right edge grow by
//   appending.
// - tree_dedup(level, h6, idx), tree_dedup_filter: the leveled disk level of
//   the leaf-hash map and a fixed-size filter over it (dedup.ts). Version 1
//   had tree_dedup(h6, idx), version 3 and older a 4 MiB filter, version 4
//   no leaf_hashes_unique, version 5 one bit per prefix in every filter row;
//   opening such a file migrates it in place.
// - tree_state(name, value): schema_version, size, dedup_chunk, dedup_upto,
//   dedup_slices, dedup_filter_upto, dedup_filter_two_bits, dedup_rows_<level>, dedup_cursor_<level>,
//   leaf_hashes_unique, leaf_format.
// - tree_meta(key, value): free-form metadata for callers (getMeta/setMeta).
// About 218 bytes per 128-byte leaf at 10M leaves: 132 leaf (137 in leaf
// format 1), 65 hashes, ~20 dedup, plus the 16 MiB filter.
//
// Durability: WAL mode with synchronous=FULL, so the WAL is fsynced at every
// COMMIT and a transaction that has committed survives power loss (with
// synchronous=NORMAL a WAL commit can be lost until the next checkpoint).
// Every write method is one IMMEDIATE transaction: all of it or none of it,
// durable once it returns.
//
// Concurrency: one process writes (the node); other connections, in this
// process or others, may read. Reads run in a read transaction, so each sees
// one snapshot; cached state (tiles, ragged-edge memo, the dedup memory level)
// is rebuilt whenever PRAGMA data_version shows another connection committed.
// A store opened as sole writer (a running node) skips that check on reads
// and refuses a write that finds another connection committed.
// Memory is bounded whatever the tree size: 8 MiB SQLite page cache, 12 MiB
// tile cache, ~5 MiB dedup memory level, 16 MiB filter.
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import {
  ALL_SLICES_TWO_BITS,
  BatchDedup,
  DEDUP_TABLE_SQL,
  DEFAULT_DEDUP_CHUNK,
  LeafHashIndex,
  migrateDedupToLevels,
  rebuildStoredFilter,
} from './dedup.js';
import { edgeLevels, RightEdge } from './compact.js';
import { checkStoredTree, checkTree, streamLeaves, type StoredTree, type TreeCheck, type TreeCheckOptions } from './integrity.js';
import { DatabaseOpenError, TreeDivergenceError, TreeGapError, TreeIntegrityError } from './errors.js';
import { hashToText, leafHashText, type HashText } from './hash.js';
import { leafTileFormat, LEAF_FORMAT_1, NEW_FILE_LEAF_FORMAT, type LeafTileFormat } from './leaf-tiles.js';
import { consistencyProof, inclusionProof, rootHash, type NodeReader } from './proof.js';
import { isTreeSize, pow2 } from './sizes.js';
import { SubtreeMemoMap } from './subtree-memo.js';
import { TileCache } from './tile-cache.js';
import { WAL_BOUND_BYTES, WalCheckpointer } from './wal-checkpointer.js';
import {
  firstTileId,
  nodeAddress,
  nodeTileId,
  tileBytes,
  tileCount,
  tileId,
  tileLevels,
  TILE_WIDTH,
} from './tiles.js';
import { bytesEqual } from '../hex.js';
import { HASH_SIZE, type Hash } from '../types.js';

export const SCHEMA_VERSION = 6;

export { TreeDivergenceError, TreeGapError, TreeIntegrityError };

export interface TreeStoreOptions {
  /**
   * Leaves per move of the dedup memory level to disk (≥ 1), fixed when the
   * file is created (ignored for an existing file); small values let tests
   * exercise the moves. Default 131072.
   */
  readonly dedupChunk?: number;
  /**
   * Disk entries of the leaf-hash index from which its filter rows go back
   * from two bits per prefix to one (dedup.ts); tests lower it. Default 2^26.
   */
  readonly filterOneBitFrom?: number;
  /** Hash tiles kept in the in-process cache (≥ 1; a full tile is 4 KiB). Default 3072. */
  readonly tileCacheTiles?: number;
  /**
   * The caller promises that no other connection writes the tree while this
   * one is open (a running node: the failover tools refuse to write until it
   * stopped). Reads then trust the cached state instead of first asking
   * SQLite whether another connection committed, which saves a transaction
   * per read on add-leaf's path. Writes still check. Default false.
   */
  readonly soleWriter?: boolean;
  /**
   * Open the file read-only (it must exist and hold a tree): for checks of a
   * running node's database (fsck), which must not take a write lock or change
   * anything. Write methods then fail. Default false.
   */
  readonly readOnly?: boolean;
  /**
   * Run WAL checkpoints on a worker thread (wal-checkpointer.ts) instead of in
   * the commit that fills the WAL: for a long-running writer (a node, the
   * bench), so that no append batch waits for a checkpoint's copy and fsync.
   * Ignored when readOnly. Default false (tools and tests: one thread, as
   * SQLite does by itself).
   */
  readonly checkpointInBackground?: boolean;
  /**
   * With checkpointInBackground: WAL file size in bytes above which the
   * writer copies what the worker has not yet copied itself, so that the WAL
   * is reused from its start (≥ 4096; default 64 MiB). Tests lower it.
   */
  readonly walBoundBytes?: number;
}

const SCHEMA = `
CREATE TABLE tree_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE tree_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE tree_leaf_tiles (k INTEGER PRIMARY KEY, leaves BLOB NOT NULL);
CREATE TABLE tree_hash_tiles (id INTEGER PRIMARY KEY, hashes BLOB NOT NULL);
${DEDUP_TABLE_SQL};
CREATE TABLE tree_dedup_filter (id INTEGER PRIMARY KEY, bits BLOB NOT NULL);
INSERT INTO tree_state (name, value) VALUES ('schema_version', ${SCHEMA_VERSION}), ('size', 0), ('dedup_upto', 0), ('dedup_slices', 0),
  ('dedup_filter_upto', 0), ('dedup_filter_two_bits', ${ALL_SLICES_TWO_BITS}), ('leaf_hashes_unique', 1), ('leaf_format', ${NEW_FILE_LEAF_FORMAT.id});
`;

// Page cache per connection: bounded, so memory does not grow with the tree;
// the OS page cache holds the rest of the file.
const CACHE_KIB = 8192;
const DEFAULT_TILE_CACHE_TILES = 3072; // ≤ 12 MiB: every upper tile of a 16M-leaf tree (tile-cache.ts)
// Ragged-edge subtree hashes remembered (see SubtreeMemo); ~100 bytes each.
const MEMO_ENTRIES = 4096;
const LEAF_PAGE_TILES = 64;
/** Position in its level-0 hash tile of the leaf hash of each leaf of the tile. */
const LEAF_POSITIONS = Array.from({ length: TILE_WIDTH }, (_v, j) => nodeAddress(0, j).position);

/** A schema version before SCHEMA_VERSION that opening for writing migrates (1 … 5). */
function isMigratable(version: unknown): boolean {
  return typeof version === 'number' && Number.isInteger(version) && version >= 1 && version < SCHEMA_VERSION;
}

function checkSchemaVersion(db: Database.Database, path: string): void {
  const version = db.prepare("SELECT value FROM tree_state WHERE name = 'schema_version'").pluck().get();
  if (isMigratable(version)) {
    throw new Error(`${path}: tree schema version ${version}; it is migrated to ${SCHEMA_VERSION} when opened for writing (by the node, or fsck --repair), not read-only`);
  }
  if (version !== SCHEMA_VERSION) {
    throw new Error(`${path}: tree schema version ${String(version)}, this program reads ${SCHEMA_VERSION}`);
  }
}

function checkSchemaReadOnly(db: Database.Database, path: string): void {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tree_state'").get();
  if (exists === undefined) throw new Error(`${path}: not a sigsum-log database (no tree_state table)`);
  checkSchemaVersion(db, path);
}

function createOrCheckSchema(db: Database.Database, path: string, dedupChunk: number): void {
  db.transaction(() => {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tree_state'").get();
    if (exists === undefined) {
      db.exec(SCHEMA);
      db.prepare("INSERT INTO tree_state (name, value) VALUES ('dedup_chunk', ?)").run(dedupChunk);
      return;
    }
    let version = db.prepare("SELECT value FROM tree_state WHERE name = 'schema_version'").pluck().get();
    // Files from before schema 6 get their filter rebuilt once, after the other steps.
    const rebuildFilter = isMigratable(version);
    if (version === 1) {
      // 1 → 2: the leaf-hash index's disk level gains levels (dedup.ts). Same transaction: all or nothing.
      migrateDedupToLevels(db);
      db.prepare("UPDATE tree_state SET value = 2 WHERE name = 'schema_version'").run();
      version = 2;
    }
    if (version === 2) {
      // 2 → 3: leaf tiles gain a recorded format (leaf-tiles.ts); an existing
      // file keeps the one it was written in.
      db.prepare("INSERT INTO tree_state (name, value) VALUES ('leaf_format', ?)").run(LEAF_FORMAT_1.id);
      db.prepare("UPDATE tree_state SET value = 3 WHERE name = 'schema_version'").run();
      version = 3;
    }
    if (version === 3) {
      // 3 → 4: the leaf-hash filter widens from 4 to 16 MiB and is saved once
      // per few chunks (dedup.ts); rebuilt from the index below.
      db.prepare("UPDATE tree_state SET value = 4 WHERE name = 'schema_version'").run();
      version = 4;
    }
    if (version === 4) {
      // 4 → 5: state leaf_hashes_unique (dedup.ts). Counting needs the loaded
      // index, so the store does it once it is open (see countUniqueness);
      // until then the row is missing, which means "not known".
      db.prepare("UPDATE tree_state SET value = 5 WHERE name = 'schema_version'").run();
      version = 5;
    }
    if (version === 5) {
      // 5 → 6: the filter takes two bits per prefix while the index is small
      // (state dedup_filter_two_bits, dedup.ts); rebuilt from the index below.
      db.prepare("UPDATE tree_state SET value = 6 WHERE name = 'schema_version'").run();
      version = 6;
    }
    if (rebuildFilter && version === SCHEMA_VERSION) rebuildStoredFilter(db);
    if (version !== SCHEMA_VERSION) {
      throw new Error(`${path}: tree schema version ${String(version)}, this program reads ${SCHEMA_VERSION}`);
    }
  }).immediate();
}

/** Narrows a stored value to a blob: a missing row or a value of another type is corruption. */
function blobOrThrow(value: unknown, what: string): Buffer {
  if (value === undefined) throw new TreeIntegrityError(`${what} is missing`);
  if (!Buffer.isBuffer(value)) throw new TreeIntegrityError(`${what} is not a blob`);
  return value;
}

function checkIndex(what: string, n: number): void {
  if (!isTreeSize(n)) throw new RangeError(`${what} must be an integer in [0, 2^53-1], got ${n}`);
}

/** An index that holds nothing: for checking leaves and hashes when the real one cannot load. */
function noIndex(size: number): StoredTree['index'] {
  return {
    isOnDisk: () => false,
    memoryFrom: size,
    forEachDiskEntry: () => undefined,
    forEachEntryByPrefix: () => undefined,
    hasDiskEntry: () => false,
    expectedLevelRows: () => 0,
    filterHas: () => false,
    lookup: () => undefined,
    leafHashesUnique: false,
  };
}

export class TreeStore {
  private sizeNow = 0;
  private dataVersion = -1; // -1: cached state must be reloaded before use
  private readonly soleWriter: boolean;
  private readonly tiles: TileCache;
  /** How this file encodes leaf tiles; fixed when the file was created. */
  private readonly leafFormat: LeafTileFormat;
  private readonly index: LeafHashIndex;
  private readonly memo = new SubtreeMemoMap(MEMO_ENTRIES);
  private readonly reader: NodeReader = { node: (level, index) => this.node(level, index), memo: this.memo };
  private readonly readTx: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly writeTx: Database.Transaction<(fn: () => unknown) => unknown>;
  private checkpointer: WalCheckpointer | undefined;
  private walBound = { path: '', bytes: 0 };

  private readonly stmt: {
    dataVersion: Database.Statement<[], number>;
    size: Database.Statement<[], number>;
    setSize: Database.Statement<[number]>;
    leafTile: Database.Statement<[number], Buffer>;
    leafTiles: Database.Statement<[number, number], [number, Buffer]>;
    putLeafTile: Database.Statement<[number, Buffer]>;
    deleteLeafTiles: Database.Statement<[number]>;
    countLeafTiles: Database.Statement<[], number>;
    hashTile: Database.Statement<[number], Buffer>;
    hashTileRange: Database.Statement<[number, number], [number, unknown]>;
    putHashTile: Database.Statement<[number, Buffer]>;
    deleteHashTiles: Database.Statement<[number, number]>;
    countHashTiles: Database.Statement<[], number>;
    getMeta: Database.Statement<[string], string>;
    setMeta: Database.Statement<[string, string]>;
  };

  /**
   * The connection, for other modules that keep their own tables in the same
   * file (and so commit atomically with nothing here: tree writes are their
   * own transactions). Tables named tree_* belong to this module; do not
   * touch them, and do not call tree write methods inside your own transaction.
   */
  readonly db: Database.Database;

  private constructor(db: Database.Database, options: TreeStoreOptions) {
    this.db = db;
    this.leafFormat = leafTileFormat(db.prepare("SELECT value FROM tree_state WHERE name = 'leaf_format'").pluck().get());
    this.tiles = new TileCache(options.tileCacheTiles ?? DEFAULT_TILE_CACHE_TILES, (id) => id < firstTileId(1));
    this.soleWriter = options.soleWriter === true;
    this.index = new LeafHashIndex(db, (i) => this.nodeText(0, i), options.filterOneBitFrom);
    this.readTx = db.transaction((fn: () => unknown) => {
      this.refresh();
      return fn();
    });
    this.writeTx = db.transaction((fn: () => unknown) => {
      if (this.soleWriter && this.dataVersion !== -1 && this.stmt.dataVersion.get() !== this.dataVersion) {
        throw new Error(
          `${this.db.name} was written by another connection, but this store was opened as its sole writer; is another node running on the same database?`,
        );
      }
      this.refresh();
      return fn();
    });
    this.stmt = {
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
      size: db.prepare<[], number>("SELECT value FROM tree_state WHERE name = 'size'").pluck(),
      setSize: db.prepare<[number]>("UPDATE tree_state SET value = ? WHERE name = 'size'"),
      leafTile: db.prepare<[number], Buffer>('SELECT leaves FROM tree_leaf_tiles WHERE k = ?').pluck(),
      leafTiles: db
        .prepare<[number, number], [number, Buffer]>(
          'SELECT k, leaves FROM tree_leaf_tiles WHERE k >= ? ORDER BY k LIMIT ?',
        )
        .raw(),
      putLeafTile: db.prepare<[number, Buffer]>(
        'INSERT INTO tree_leaf_tiles (k, leaves) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET leaves = excluded.leaves',
      ),
      deleteLeafTiles: db.prepare<[number]>('DELETE FROM tree_leaf_tiles WHERE k >= ?'),
      countLeafTiles: db.prepare<[], number>('SELECT count(*) FROM tree_leaf_tiles').pluck(),
      hashTile: db.prepare<[number], Buffer>('SELECT hashes FROM tree_hash_tiles WHERE id = ?').pluck(),
      hashTileRange: db
        .prepare<[number, number], [number, unknown]>('SELECT id, hashes FROM tree_hash_tiles WHERE id >= ? AND id < ? ORDER BY id')
        .raw(),
      putHashTile: db.prepare<[number, Buffer]>(
        'INSERT INTO tree_hash_tiles (id, hashes) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET hashes = excluded.hashes',
      ),
      deleteHashTiles: db.prepare<[number, number]>('DELETE FROM tree_hash_tiles WHERE id >= ? AND id < ?'),
      countHashTiles: db.prepare<[], number>('SELECT count(*) FROM tree_hash_tiles').pluck(),
      getMeta: db.prepare<[string], string>('SELECT value FROM tree_meta WHERE key = ?').pluck(),
      setMeta: db.prepare<[string, string]>(
        'INSERT INTO tree_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  /** Opens (creating if missing) the tree in the SQLite file at path. */
  static open(path: string, options: TreeStoreOptions = {}): TreeStore {
    try {
      return options.readOnly === true ? TreeStore.openReadOnly(path, options) : TreeStore.openWritable(path, options);
    } catch (e) {
      throw asDatabaseOpenError(path, e);
    }
  }

  private static openWritable(path: string, options: TreeStoreOptions): TreeStore {
    const db = new Database(path);
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`${path}: cannot use WAL mode (got ${String(mode)})`);
      db.pragma('synchronous = FULL');
      db.pragma(`cache_size = -${CACHE_KIB}`);
      const dedupChunk = options.dedupChunk ?? DEFAULT_DEDUP_CHUNK;
      if (!Number.isSafeInteger(dedupChunk) || dedupChunk < 1) throw new RangeError(`invalid dedup chunk ${dedupChunk}`);
      createOrCheckSchema(db, path, dedupChunk);
      const store = new TreeStore(db, options);
      store.countUniqueness();
      if (options.checkpointInBackground === true) {
        const bound = options.walBoundBytes ?? WAL_BOUND_BYTES;
        if (!Number.isSafeInteger(bound) || bound < 4096) throw new RangeError(`invalid WAL bound ${bound}`);
        db.pragma('wal_autocheckpoint = 0');
        db.pragma(`journal_size_limit = ${bound}`); // SQLite truncates the WAL file to it after a restart
        store.checkpointer = new WalCheckpointer(path);
        store.walBound = { path: `${path}-wal`, bytes: bound };
      }
      return store;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  private static openReadOnly(path: string, options: TreeStoreOptions): TreeStore {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      db.pragma(`cache_size = -${CACHE_KIB}`);
      checkSchemaReadOnly(db, path);
      return new TreeStore(db, { ...options, soleWriter: false });
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    this.checkpointer?.stop(); // first, so this connection's close is the last and removes the WAL
    this.checkpointer = undefined;
    this.db.close();
  }

  /** Checkpoints run by the background checkpointer so far (0 without one): for tests and the bench. */
  backgroundCheckpoints(): number {
    return this.checkpointer?.checkpoints() ?? 0;
  }

  /** Number of durably stored leaves. */
  size(): number {
    return this.read(() => this.sizeNow);
  }

  /**
   * Sequencing mode. Appends the leaves whose leaf hash is not yet stored
   * (nor earlier in this batch), in one transaction: all or none. Returns each
   * input's index: the new one, or the existing one for a duplicate.
   * Durable once it returns.
   */
  appendLeaves(leaves: readonly Uint8Array[]): number[] {
    if (leaves.length === 0) return [];
    const hashes = leaves.map(leafHashText);
    return this.write(() => {
      const found = this.index.lookupMany(hashes);
      const inBatch = new BatchDedup();
      const fresh: Uint8Array[] = [];
      const freshHashes: HashText[] = [];
      const indices = found.map((existing, i) => {
        if (existing !== undefined) return existing;
        const hash = hashes[i] as HashText;
        const earlier = inBatch.get(hash);
        if (earlier !== undefined) return earlier;
        const index = this.sizeNow + fresh.length;
        inBatch.set(hash, index);
        fresh.push(leaves[i] as Uint8Array);
        freshHashes.push(hash);
        return index;
      });
      if (fresh.length > 0) this.appendAt(fresh, freshHashes);
      return indices;
    });
  }

  /**
   * Replica mode. Stores leaves at exactly [startIndex, startIndex + n), in
   * one transaction: all or none. Throws TreeGapError if startIndex is beyond
   * the end; where the range overlaps stored leaves they must be
   * byte-identical (and are skipped), else TreeDivergenceError names the first
   * differing index. No dedup: a replica mirrors its source exactly.
   * Durable once it returns.
   */
  appendPreordered(startIndex: number, leaves: readonly Uint8Array[]): void {
    checkIndex('start index', startIndex);
    if (!isTreeSize(startIndex + leaves.length)) throw new RangeError('tree would exceed 2^53-1 leaves');
    if (leaves.length === 0) {
      this.write(() => {
        if (startIndex > this.sizeNow) throw new TreeGapError(this.sizeNow, startIndex);
      });
      return;
    }
    this.write(() => {
      if (startIndex > this.sizeNow) throw new TreeGapError(this.sizeNow, startIndex);
      const overlap = Math.min(this.sizeNow - startIndex, leaves.length);
      if (overlap > 0) {
        const stored = this.readLeaves(startIndex, startIndex + overlap);
        stored.forEach((leaf, i) => {
          if (!bytesEqual(leaf, leaves[i] as Uint8Array)) throw new TreeDivergenceError(startIndex + i);
        });
      }
      if (overlap < leaves.length) {
        const rest = leaves.slice(overlap);
        const hashes = rest.map(leafHashText);
        // No dedup here, but a repeat ends the index's uniqueness (dedup.ts).
        if (this.index.leafHashesUnique && this.index.wouldRepeat(hashes)) this.index.markRepeated();
        this.appendAt(rest, hashes);
      }
    });
  }

  /** The raw leaf at index (0 ≤ index < size). */
  leafAt(index: number): Uint8Array {
    checkIndex('leaf index', index);
    return this.leaves(index, index + 1)[0] as Uint8Array;
  }

  /** Raw leaves [start, end), 0 ≤ start ≤ end ≤ size. Memory is proportional to the range; callers bound it. */
  leaves(start: number, end: number): Uint8Array[] {
    checkIndex('start', start);
    checkIndex('end', end);
    return this.read(() => {
      if (start > end || end > this.sizeNow) {
        throw new RangeError(`leaf range [${start}, ${end}) is not within the tree of size ${this.sizeNow}`);
      }
      return this.readLeaves(start, end);
    });
  }

  /** The stored leaf hash at index (0 ≤ index < size). */
  leafHashAt(index: number): Hash {
    checkIndex('leaf index', index);
    return this.read(() => {
      if (index >= this.sizeNow) throw new RangeError(`leaf index ${index} is beyond the tree of size ${this.sizeNow}`);
      return this.node(0, index);
    });
  }

  /**
   * The stored hashes of nodes (level, start) … (level, end - 1), concatenated
   * (32 bytes each): complete subtrees of 2^level leaves, all within the tree.
   * A tlog-tiles tile is such a range (level 8·L, 256 nodes); nothing is rehashed.
   */
  nodeHashes(level: number, start: number, end: number): Uint8Array {
    checkIndex('start', start);
    checkIndex('end', end);
    if (!Number.isSafeInteger(level) || level < 0 || level > 52 || start > end) {
      throw new RangeError(`no node range [${start}, ${end}) at level ${level}`);
    }
    return this.read(() => {
      const out = new Uint8Array((end - start) * HASH_SIZE);
      for (let i = start; i < end; i++) {
        const { tile, offset } = this.nodeTile(level, i);
        out.set(tile.subarray(offset, offset + HASH_SIZE), (i - start) * HASH_SIZE);
      }
      return out;
    });
  }

  /** The lowest index of a leaf with this leaf hash, or undefined. */
  indexOfLeafHash(hash: Hash): number | undefined {
    if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) return undefined;
    const text = hashToText(hash);
    return this.read(() => this.index.lookup(text));
  }

  /** The root of the tree's first `size` leaves (0 ≤ size ≤ current size). */
  rootAt(size: number): Hash {
    checkIndex('tree size', size);
    return this.read(() => {
      this.checkSize(size);
      return rootHash(this.reader, size);
    });
  }

  /** Inclusion proof of leaf index in the tree of size size (0 ≤ index < size ≤ current size). */
  inclusionProof(index: number, size: number): Hash[] {
    checkIndex('leaf index', index);
    checkIndex('tree size', size);
    return this.read(() => {
      this.checkSize(size);
      if (index >= size) throw new RangeError(`leaf index ${index} is not below tree size ${size}`);
      return inclusionProof(this.reader, index, size);
    });
  }

  /** Consistency proof from oldSize to newSize (0 ≤ oldSize ≤ newSize ≤ current size; empty if equal or oldSize is 0). */
  consistencyProof(oldSize: number, newSize: number): Hash[] {
    checkIndex('old size', oldSize);
    checkIndex('new size', newSize);
    return this.read(() => {
      this.checkSize(newSize);
      if (oldSize > newSize) throw new RangeError(`old size ${oldSize} exceeds new size ${newSize}`);
      return consistencyProof(this.reader, oldSize, newSize);
    });
  }

  /**
   * Removes leaves ≥ newSize (0 ≤ newSize ≤ size) and every stored hash that
   * depended on them, in one transaction. Cost grows with the removed range,
   * plus a scan of the dedup table when newSize falls below its disk level.
   * Durable once it returns.
   */
  truncate(newSize: number): void {
    checkIndex('new size', newSize);
    try {
      this.write(() => {
        if (newSize > this.sizeNow) throw new RangeError(`cannot truncate to ${newSize}: the tree has ${this.sizeNow} leaves`);
        if (newSize === this.sizeNow) return;
        this.tiles.clear();
        this.memo.clear();
        const lastLeafTile = Math.floor(newSize / this.leafFormat.width);
        const keepInLast = newSize - lastLeafTile * this.leafFormat.width;
        this.stmt.deleteLeafTiles.run(keepInLast === 0 ? lastLeafTile : lastLeafTile + 1);
        if (keepInLast > 0) {
          const tile = this.leafTile(lastLeafTile);
          this.stmt.putLeafTile.run(lastLeafTile, Buffer.from(tile.subarray(0, this.leafFormat.prefixBytes(tile, keepInLast))));
        }
        for (let level = 0; level < tileLevels(this.sizeNow); level++) {
          const keep = tileCount(level, newSize);
          this.stmt.deleteHashTiles.run(tileId(level, keep), firstTileId(level + 1));
          if (keep === 0) continue;
          const id = tileId(level, keep - 1);
          const bytes = tileBytes(level, keep - 1, newSize);
          const tile = blobOrThrow(this.stmt.hashTile.get(id), `hash tile ${id}`);
          if (tile.length < bytes) {
            throw new TreeIntegrityError(`hash tile (level ${level}, index ${keep - 1}) is missing or short`);
          }
          if (tile.length !== bytes) this.stmt.putHashTile.run(id, Buffer.from(tile.subarray(0, bytes)));
        }
        this.index.truncateDisk(newSize);
        this.sizeNow = newSize;
        this.stmt.setSize.run(newSize);
      });
    } finally {
      this.dataVersion = -1; // rebuild caches and the dedup memory level for the new size
    }
  }

  /**
   * Recomputes every stored hash from the stored leaves (streaming: bounded
   * memory) and compares: hash tiles byte for byte, tile counts, and the
   * leaf-hash index. Throws TreeIntegrityError naming the first problem.
   * O(size) time; for tools (promotion), not the serving path.
   */
  verifyIntegrity(): { size: number; root: Hash } {
    return this.read(() => checkStoredTree(this.storedTree()));
  }

  /**
   * The same check as verifyIntegrity in one read transaction (a snapshot:
   * safe beside a running node), returning every problem found, each naming
   * the leaf index, hash tile and node, or index entry (src/tree/integrity.ts).
   */
  checkTree(options: TreeCheckOptions = {}): TreeCheck {
    try {
      return this.read(() => checkTree(this.storedTree(), options));
    } catch (err) {
      if (!(err instanceof TreeIntegrityError)) throw err;
      // The store cannot load its state (the dedup memory level is rebuilt
      // from stored hashes, its records may be damaged): check leaves and
      // hashes without the index, and report the load failure itself only
      // when that finds nothing that explains it.
      const check = (): TreeCheck => {
        this.dataVersion = -1;
        this.tiles.clear();
        this.memo.clear();
        this.sizeNow = this.stmt.size.get() ?? 0;
        const result = checkTree({ ...this.storedTree(), index: noIndex(this.sizeNow) }, options);
        if (result.problems.length > 0) return result;
        return { ...result, problems: [{ kind: 'index', message: `the leaf-hash index cannot be loaded: ${err.message}` }] };
      };
      return this.db.inTransaction ? check() : this.db.transaction(check).deferred();
    }
  }

  /**
   * Rebuilds everything derivable from the stored leaves: every hash tile and
   * the leaf-hash index (disk entries, filter, state), in one transaction, so
   * a crash leaves the old state and a rerun starts again. Never writes a
   * leaf; throws TreeIntegrityError when a leaf tile cannot be read. Callers
   * first make sure no leaf is damaged (checkTree), since the rebuilt hashes
   * follow the leaves. O(size) time and WAL space about that of the hashes
   * and index.
   */
  rebuildDerived(onProgress?: (leavesDone: number) => void): void {
    if (this.db.inTransaction) throw new Error('rebuildDerived commits on its own; do not call it inside another transaction');
    try {
      this.db
        .transaction(() => {
          this.db.exec(`DELETE FROM tree_hash_tiles; DELETE FROM tree_dedup; DELETE FROM tree_dedup_filter;
            UPDATE tree_state SET value = 0 WHERE name IN ('dedup_upto', 'dedup_slices', 'dedup_filter_upto');
            DELETE FROM tree_state WHERE name GLOB 'dedup_rows_*' OR name GLOB 'dedup_cursor_*';`);
          // No rows left, so any form is consistent: start as a new file does
          // (a large tree's rows go back to one bit as the rebuild passes the threshold).
          this.db
            .prepare("INSERT INTO tree_state (name, value) VALUES ('dedup_filter_two_bits', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .run(ALL_SLICES_TWO_BITS);
          this.tiles.clear();
          this.memo.clear();
          this.sizeNow = this.stmt.size.get() ?? 0;
          this.index.load(0, () => undefined);
          const failures: string[] = [];
          let pending: HashText[] = [];
          let start = 0;
          const flush = (): void => {
            this.appendHashTiles(start, pending);
            pending.forEach((h, i) => this.index.add(h, start + i));
            this.index.flush(pending.length);
            start += pending.length;
            pending = [];
          };
          const read = streamLeaves(
            { size: this.sizeNow, leafFormat: this.leafFormat, leafTiles: (from, limit) => this.stmt.leafTiles.all(from, limit) },
            { add: (_kind, message) => void failures.push(message) },
            (done) => {
              flush();
              onProgress?.(done);
            },
            (_i, h) => void pending.push(h),
          );
          if (read < this.sizeNow) throw new TreeIntegrityError(failures[0] ?? `only ${read} of ${this.sizeNow} leaves could be read`);
          flush();
          this.index.recordUniqueness();
        })
        .immediate();
    } finally {
      this.dataVersion = -1; // rebuild caches and the dedup memory level from what was written
    }
  }

  /**
   * Schema 4 → 5, once: a file without state leaf_hashes_unique gets it
   * counted (O(size), one pass over the index; measured in doc/design.md).
   * A crash before the commit leaves the row missing, so the next open counts
   * again. So does an index that cannot load: the file still opens, for fsck
   * to report and --repair to rebuild (rebuildDerived records the state).
   */
  private countUniqueness(): void {
    if (this.db.prepare("SELECT 1 FROM tree_state WHERE name = 'leaf_hashes_unique'").get() !== undefined) return;
    try {
      this.write(() => void this.index.recordUniqueness());
    } catch (err) {
      if (!(err instanceof TreeIntegrityError)) throw err;
    }
  }

  /** What the integrity check reads; call inside a read or write transaction. */
  private storedTree(): StoredTree {
    return {
      size: this.sizeNow,
      leafFormat: this.leafFormat,
      leafTiles: (from, limit) => this.stmt.leafTiles.all(from, limit),
      leafTileCount: () => this.stmt.countLeafTiles.get() ?? 0,
      hashTile: (id) => this.stmt.hashTile.get(id),
      hashTileCount: () => this.stmt.countHashTiles.get() ?? 0,
      storedNode: (level, index) => {
        try {
          return this.nodeText(level, index);
        } catch (err) {
          if (err instanceof TreeIntegrityError || err instanceof RangeError) return undefined;
          throw err;
        }
      },
      index: this.index,
      storedRoot: () => rootHash(this.reader, this.sizeNow),
    };
  }

  getMeta(key: string): string | undefined {
    return this.stmt.getMeta.get(key);
  }

  /** Durable once it returns (when called outside a transaction of the caller's; else when that commits). */
  setMeta(key: string, value: string): void {
    this.stmt.setMeta.run(key, value);
  }

  // --- internals ---------------------------------------------------------

  /**
   * Runs fn in a read transaction (one snapshot), or in the caller's
   * transaction if one is open. As sole writer, with a valid cache, fn runs
   * without one: everything below the cached size is immutable and only this
   * connection appends, so each statement sees the same tree.
   */
  private read<T>(fn: () => T): T {
    if (this.db.inTransaction) {
      this.refresh();
      return fn();
    }
    if (this.soleWriter && this.dataVersion !== -1) return fn();
    return this.readTx.deferred(fn) as T;
  }

  /**
   * Runs fn in its own IMMEDIATE transaction; on any failure the cached state
   * is rebuilt from disk. As sole writer, a write that finds another
   * connection committed throws (once: the state is then reloaded), because
   * reads until then trusted a cache that was stale.
   */
  private write<T>(fn: () => T): T {
    if (this.db.inTransaction) {
      throw new Error('TreeStore writes commit durably on their own; do not call them inside another transaction');
    }
    let result: T;
    try {
      result = this.writeTx.immediate(fn) as T;
    } catch (e) {
      this.dataVersion = -1;
      throw e;
    }
    if (this.checkpointer !== undefined) this.afterCommit(this.checkpointer);
    return result;
  }

  /**
   * Tells the background checkpointer about a commit. If it has failed, the
   * connection's own automatic checkpoint comes back; if the WAL file grew
   * past its bound because commits never paused long enough for the worker
   * to copy every frame, this connection copies the remainder now (a PASSIVE
   * checkpoint by the writer, after which the next write restarts the WAL
   * and SQLite truncates the file to the bound).
   */
  private afterCommit(checkpointer: WalCheckpointer): void {
    checkpointer.committed();
    if (checkpointer.failed()) {
      checkpointer.stop();
      this.checkpointer = undefined;
      this.db.pragma('wal_autocheckpoint = 1000');
      return;
    }
    const walBytes = statSync(this.walBound.path, { throwIfNoEntry: false })?.size ?? 0;
    if (walBytes <= this.walBound.bytes) return;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)'); // busy if the worker is copying: the next commit tries again
    } catch {
      // Nothing is lost: the frames stay in the WAL; the next commit tries again.
    }
  }

  /** Reloads cached state if another connection committed (or a write failed) since it was built. */
  private refresh(): void {
    const version = this.stmt.dataVersion.get() as number;
    if (version === this.dataVersion) return;
    this.tiles.clear();
    this.memo.clear();
    this.sizeNow = this.stmt.size.get() ?? 0;
    this.index.load(this.sizeNow, (start, end, visit) => this.leafHashPrefixes(start, end, visit));
    this.dataVersion = version;
  }

  /**
   * hashPrefix of the stored leaf hash of every index in [start, end), read
   * tile by tile straight from SQLite (a range scan, past the tile cache,
   * which a node's start would otherwise flush), with no node read or hash
   * string per leaf: what rebuilding the dedup memory level and filter at
   * open needs. The prefix is dedup.ts's hashPrefix, from the bytes.
   */
  private leafHashPrefixes(start: number, end: number, visit: (h6: number) => void): void {
    if (end <= start) return;
    const firstTile = Math.floor(start / TILE_WIDTH);
    const lastTile = Math.floor((end - 1) / TILE_WIDTH);
    let expected = firstTile;
    for (const [id, tile] of this.stmt.hashTileRange.iterate(tileId(0, firstTile), tileId(0, lastTile) + 1)) {
      if (id !== tileId(0, expected) || !Buffer.isBuffer(tile)) break;
      const base = expected * TILE_WIDTH;
      const from = Math.max(start, base) - base;
      const to = Math.min(end, base + TILE_WIDTH) - base;
      for (let j = from; j < to; j++) {
        const o = (LEAF_POSITIONS[j] as number) * HASH_SIZE;
        if (o + HASH_SIZE > tile.length) throw new TreeIntegrityError(`stored hash of leaf ${base + j} is missing`);
        visit(
          ((tile[o] as number) * 0x10000 + (tile[o + 1] as number) * 0x100 + (tile[o + 2] as number)) * 0x1000000 +
            ((tile[o + 3] as number) * 0x10000 + (tile[o + 4] as number) * 0x100 + (tile[o + 5] as number)),
        );
      }
      expected++;
    }
    if (expected <= lastTile) throw new TreeIntegrityError(`hash tile (level 0, index ${expected}) is missing`);
  }

  private checkSize(size: number): void {
    if (size > this.sizeNow) throw new RangeError(`tree size ${size} exceeds the stored size ${this.sizeNow}`);
  }

  /** Appends leaves with their leaf hashes at the end of the tree; inside a write transaction. */
  private appendAt(leaves: readonly Uint8Array[], hashes: readonly HashText[]): void {
    const start = this.sizeNow;
    if (!isTreeSize(start + leaves.length)) throw new RangeError('tree would exceed 2^53-1 leaves');
    this.appendLeafTiles(start, leaves);
    this.appendHashTiles(start, hashes);
    hashes.forEach((h, i) => this.index.add(h, start + i));
    this.sizeNow = start + leaves.length;
    this.stmt.setSize.run(this.sizeNow);
    this.index.flush(leaves.length);
  }

  private appendLeafTiles(start: number, leaves: readonly Uint8Array[]): void {
    for (let i = 0; i < leaves.length; ) {
      const k = Math.floor((start + i) / this.leafFormat.width);
      const offset = start + i - k * this.leafFormat.width;
      const n = Math.min(this.leafFormat.width - offset, leaves.length - i);
      const added = this.leafFormat.encode(leaves.slice(i, i + n));
      let blob = added;
      if (offset > 0) {
        const old = this.leafTile(k);
        if (this.leafFormat.prefixBytes(old, offset) !== old.length) {
          throw new TreeIntegrityError(`leaf tile ${k} holds more than the ${offset} leaves the size implies`);
        }
        blob = Buffer.concat([old, added]);
      }
      this.stmt.putLeafTile.run(k, blob);
      i += n;
    }
  }

  private appendHashTiles(start: number, hashes: readonly HashText[]): void {
    let covered = 0;
    const edgeHashes = edgeLevels(start).map((level) => {
      const h = this.nodeText(level, covered / pow2(level));
      covered += pow2(level);
      return h;
    });
    const edge = new RightEdge(start, edgeHashes);
    const appended = new Map<number, HashText[]>();
    const sink = (level: number, index: number, hash: HashText): void => {
      const id = nodeTileId(level, index);
      const parts = appended.get(id);
      if (parts === undefined) appended.set(id, [hash]);
      else parts.push(hash);
    };
    for (const h of hashes) edge.push(h, sink);
    const end = start + hashes.length;
    for (const [id, parts] of appended) {
      const level = Math.floor(id / firstTileId(1));
      const k = id - firstTileId(level);
      const oldBytes = tileBytes(level, k, start);
      const blob = Buffer.allocUnsafe(oldBytes + parts.length * HASH_SIZE);
      if (blob.length !== tileBytes(level, k, end)) {
        throw new Error(`internal error: hash tile (level ${level}, index ${k}) would have ${blob.length} bytes`);
      }
      if (oldBytes > 0) {
        const old = this.hashTile(id, oldBytes);
        if (old.length !== oldBytes) {
          throw new TreeIntegrityError(`hash tile (level ${level}, index ${k}) is longer than the size implies`);
        }
        old.copy(blob);
      }
      parts.forEach((h, i) => blob.write(h, oldBytes + i * HASH_SIZE, HASH_SIZE, 'latin1'));
      this.stmt.putHashTile.run(id, blob);
      this.tiles.set(id, blob);
    }
  }

  /** The stored hash of node (level, index), which must lie within the tree. */
  private node(level: number, index: number): Hash {
    const { tile, offset } = this.nodeTile(level, index);
    const hash = new Uint8Array(HASH_SIZE);
    for (let i = 0; i < HASH_SIZE; i++) hash[i] = tile[offset + i] as number;
    return hash as Hash;
  }

  /** node() as HashText, for the append path. */
  private nodeText(level: number, index: number): HashText {
    const { tile, offset } = this.nodeTile(level, index);
    return tile.toString('latin1', offset, offset + HASH_SIZE) as HashText;
  }

  private nodeTile(level: number, index: number): { tile: Buffer; offset: number } {
    if ((index + 1) * pow2(level) > this.sizeNow) {
      throw new RangeError(`node (${level}, ${index}) is outside the tree of size ${this.sizeNow}`);
    }
    const at = nodeAddress(level, index);
    const id = tileId(at.tileLevel, at.tileIndex);
    const offset = at.position * HASH_SIZE;
    const tile = this.hashTile(id, offset + HASH_SIZE);
    if (tile.length < offset + HASH_SIZE) {
      throw new TreeIntegrityError(`stored hash of node (${level}, ${index}) is missing`);
    }
    return { tile, offset };
  }

  /** A hash tile with at least minBytes if cached, else as stored; throws if it does not exist. */
  private hashTile(id: number, minBytes: number): Buffer {
    const cached = this.tiles.get(id, minBytes);
    if (cached !== undefined) return cached;
    const level = Math.floor(id / firstTileId(1));
    const tile = blobOrThrow(this.stmt.hashTile.get(id), `hash tile (level ${level}, index ${id - firstTileId(level)})`);
    this.tiles.set(id, tile);
    return tile;
  }

  private leafTile(k: number): Buffer {
    return blobOrThrow(this.stmt.leafTile.get(k), `leaf tile ${k}`);
  }

  private readLeaves(start: number, end: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let k = Math.floor(start / this.leafFormat.width);
    const lastK = end === start ? k - 1 : Math.floor((end - 1) / this.leafFormat.width);
    while (k <= lastK) {
      const page = this.stmt.leafTiles.all(k, Math.min(LEAF_PAGE_TILES, lastK - k + 1));
      for (const [tileIndex, blob] of page) {
        if (tileIndex !== k) throw new TreeIntegrityError(`leaf tile ${k} is missing`);
        const leaves = this.leafFormat.decode(blobOrThrow(blob, `leaf tile ${k}`));
        const base = k * this.leafFormat.width;
        const from = Math.max(start, base);
        const to = Math.min(end, base + this.leafFormat.width);
        if (to - base > leaves.length) throw new TreeIntegrityError(`leaf tile ${k} is short`);
        for (let i = from; i < to; i++) out.push(new Uint8Array(leaves[i - base] as Uint8Array));
        k++;
      }
      if (page.length === 0) throw new TreeIntegrityError(`leaf tile ${k} is missing`);
    }
    return out;
  }
}

/**
 * SQLite's refusals to open a file (not a database, a directory, no access)
 * as a DatabaseOpenError naming the file; any other error unchanged.
 */
function asDatabaseOpenError(path: string, e: unknown): unknown {
  const code = (e as { code?: unknown }).code;
  if (code !== 'SQLITE_NOTADB' && code !== 'SQLITE_CANTOPEN') return e;
  return new DatabaseOpenError(path, (e as Error).message);
}
