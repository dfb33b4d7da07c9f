// The full consistency check behind TreeStore.checkTree / verifyIntegrity:
// recompute every leaf hash from its stored leaf and every stored hash from
// the leaves, compare, check the leaf-hash index against the leaves, and name
// each problem exactly (which leaf, which hash tile and node, which index
// entry). Streams leaf tiles a page at a time and keeps one hash tile per tile
// level under construction, so memory stays bounded whatever the tree size;
// O(size) time. The fast path compares whole tiles; only a tile that differs
// is looked at node by node.
//
// Telling a damaged leaf from a damaged stored hash: when leaf i no longer
// hashes to its stored leaf hash, the stored parent decides. If the parent
// still equals the hash of the stored children, the stored leaf hash is the one
// the tree was built from and the leaf is what changed (not derivable: the
// leaf must come from another copy of the log). Otherwise the stored hash is
// what changed (derivable). Above the leaves, a stored node that differs from
// the recomputed one but equals the hash of its stored children is only a
// consequence of a damaged leaf below it and is not reported again.
import { hashPrefix, MAX_DEDUP_LEVEL, RepeatScan } from './dedup.js';
import { EntryDigest } from './entry-digest.js';
import { RightEdge } from './compact.js';
import { TreeIntegrityError } from './errors.js';
import { interiorHashText, leafHashText, type HashText } from './hash.js';
import type { LeafTileFormat } from './leaf-tiles.js';
import { firstTileId, nodeTileId, TILE_HEIGHT, tileCount, tileLevels } from './tiles.js';
import { pow2 } from './sizes.js';
import { bytesEqual } from '../hex.js';
import { HASH_SIZE, type Hash } from '../types.js';

const PAGE_TILES = 64;
/** Problems listed in a report; more are only counted. */
const MAX_LISTED = 20;

/**
 * leaf: a stored leaf is damaged or missing; not derivable. hash: a stored hash (tile) is wrong or missing; index: the
 * leaf-hash index is; both are rebuilt from the leaves by repair.
 */
export type TreeProblemKind = 'leaf' | 'hash' | 'index';

export interface TreeProblem {
  readonly kind: TreeProblemKind;
  /** One line naming the leaf index, hash tile (and node) or index entry. */
  readonly message: string;
}

export function isDerivable(problem: TreeProblem): boolean {
  return problem.kind !== 'leaf';
}

export interface TreeCheck {
  readonly size: number;
  /** The root of the stored leaves; undefined when not every leaf could be read. */
  readonly root: Hash | undefined;
  /** The roots of the stored leaves at the sizes asked for (those ≤ size, when every leaf up to them could be read). */
  readonly rootsAt: ReadonlyMap<number, Hash>;
  /** In the order found, at most MAX_LISTED. */
  readonly problems: readonly TreeProblem[];
  /** Problems found beyond those listed. */
  readonly unlisted: number;
  /**
   * Leaves stored twice, as [first index, later index] (at most MAX_LISTED),
   * and how many in all. Not a problem of the store: a replica mirrors its
   * source, duplicates included; a sequencing log never stores one twice, so
   * the caller judges by the database's lifecycle state.
   */
  readonly duplicates: { readonly listed: ReadonlyArray<readonly [number, number]>; readonly count: number };
}

export interface TreeCheckOptions {
  /** Called every page of leaf tiles with the leaves checked so far, of size. */
  readonly onProgress?: (leavesDone: number, size: number) => void;
  /** Also report the root of the stored leaves at these sizes (published heads, for repair). */
  readonly rootsAt?: readonly number[];
}

/** What the check reads, all from one snapshot of the store. */
export interface StoredTree {
  readonly size: number;
  /** How the leaf tiles are encoded (the file's leaf_format). */
  readonly leafFormat: LeafTileFormat;
  /** Up to `limit` rows [k, leaves] of leaf tiles with k ≥ from, in k order. */
  leafTiles(from: number, limit: number): Array<[number, unknown]>;
  leafTileCount(): number;
  /** The stored blob of a hash tile, or undefined. */
  hashTile(id: number): unknown;
  hashTileCount(): number;
  /** The stored hash of node (level, index) of the tree, or undefined when it is missing. */
  storedNode(level: number, index: number): HashText | undefined;
  readonly index: StoredLeafIndex;
  /** The root as proofs compute it, from stored hashes. */
  storedRoot(): Hash;
}

/** The leaf-hash index as the check reads it (LeafHashIndex). */
export interface StoredLeafIndex {
  /** Whether the disk level should hold the entry of leaf `index` with prefix h6. */
  isOnDisk(index: number, h6: number): boolean;
  /** Leaves from this index on are (also) in the memory level. */
  readonly memoryFrom: number;
  /** Every disk entry, level by level, each level in (h6, index) order. */
  forEachDiskEntry(visit: (h6: number, index: number, level: number) => void): void;
  /**
   * Every entry, disk levels and the memory level (level 0) merged in
   * ascending prefix order; rows that cannot be ordered come as found; an
   * entry both on disk and in memory (the chunk being moved) comes twice.
   */
  forEachEntryByPrefix(visit: (h6: number, index: number, level: number) => void): void;
  /** The entries a disk level should hold, by the index's state (levels 1..MAX_DEDUP_LEVEL). */
  expectedLevelRows(level: number): number;
  hasDiskEntry(h6: number, index: number): boolean;
  filterHas(h6: number): boolean;
  lookup(hash: HashText): number | undefined;
  /** The state's claim that no two stored leaves have the same leaf hash (lookups rely on it). */
  readonly leafHashesUnique: boolean;
}

class Problems {
  readonly listed: TreeProblem[] = [];
  unlisted = 0;
  readonly duplicates: Array<[number, number]> = [];
  duplicateCount = 0;
  duplicate(first: number, again: number): void {
    if (this.duplicates.length < MAX_LISTED) this.duplicates.push([first, again]);
    this.duplicateCount++;
  }
  report(size: number, root: Hash | undefined, rootsAt: ReadonlyMap<number, Hash>): TreeCheck {
    return { size, root, rootsAt, problems: this.listed, unlisted: this.unlisted, duplicates: { listed: this.duplicates, count: this.duplicateCount } };
  }
  add(kind: TreeProblemKind, message: string): void {
    if (this.listed.length < MAX_LISTED) this.listed.push({ kind, message });
    else this.unlisted++;
  }
  get count(): number {
    return this.listed.length + this.unlisted;
  }
}

function tileName(tileLevel: number, tileIndex: number): string {
  return `hash tile (level ${tileLevel}, index ${tileIndex})`;
}

/** Checks everything; returns every problem found (the first one first). */
export function checkTree(tree: StoredTree, options: TreeCheckOptions = {}): TreeCheck {
  const { size } = tree;
  const problems = new Problems();
  // Leaves found damaged, with the stored leaf hash the tree was built from:
  // the index is checked against that, so a damaged leaf is reported once.
  const damagedLeaves = new Map<number, HashText>();
  const wantRoots = new Set((options.rootsAt ?? []).filter((n) => n <= size));
  const rootsAt = new Map<number, Hash>();

  const edge = new RightEdge(0, []);
  const fromLeaves = new EntryDigest();
  if (wantRoots.has(0)) rootsAt.set(0, edge.root());
  // The tile under construction at each tile level; nodes of one tile arrive
  // consecutively (stored order), so a new id means the previous one is done.
  const building = new Map<number, { id: number; parts: HashText[]; levels: number[]; indices: number[] }>();
  const finish = (tileLevel: number): void => {
    const tile = building.get(tileLevel);
    if (tile === undefined) return;
    building.delete(tileLevel);
    const stored = tree.hashTile(tile.id);
    // One comparison per tile on the fast path; node by node only when it differs.
    if (Buffer.isBuffer(stored) && stored.length === tile.parts.length * HASH_SIZE && stored.toString('latin1') === tile.parts.join('')) return;
    diagnoseTile(tree, tileLevel, tile.id - firstTileId(tileLevel), tile, stored, problems, damagedLeaves, fromLeaves);
  };
  const sink = (level: number, index: number, hash: HashText): void => {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const id = nodeTileId(level, index);
    let tile = building.get(tileLevel);
    if (tile?.id !== id) {
      finish(tileLevel);
      tile = { id, parts: [], levels: [], indices: [] };
      building.set(tileLevel, tile);
    }
    tile.parts.push(hash);
    tile.levels.push(level);
    tile.indices.push(index);
  };

  const onProgress = options.onProgress;
  const progress = onProgress === undefined ? undefined : (done: number): void => onProgress(done, size);
  const read = streamLeaves(tree, problems, progress, (i, h) => {
    const h6 = hashPrefix(h);
    if (tree.index.isOnDisk(i, h6)) fromLeaves.add(h6, i);
    edge.push(h, sink);
    if (wantRoots.has(i + 1)) rootsAt.set(i + 1, edge.root());
  });
  if (read < size) {
    // The leaves could not all be read: nothing derived from them can be checked.
    return problems.report(size, undefined, rootsAt);
  }
  for (const tileLevel of [...building.keys()]) finish(tileLevel);

  const leafTiles = tree.leafTileCount();
  if (leafTiles !== Math.ceil(size / tree.leafFormat.width)) {
    problems.add('leaf', `${leafTiles} leaf tiles stored for ${size} leaves, expected ${Math.ceil(size / tree.leafFormat.width)}`);
  }
  let wantHashTiles = 0;
  for (let level = 0; level < tileLevels(size); level++) wantHashTiles += tileCount(level, size);
  const hashTiles = tree.hashTileCount();
  if (hashTiles !== wantHashTiles) {
    problems.add('hash', `${hashTiles} hash tiles stored for ${size} leaves, expected ${wantHashTiles}`);
  }

  checkIndex(tree, problems, damagedLeaves, fromLeaves);

  const root = edge.root();
  if (problems.count === 0 && !bytesEqual(root, tree.storedRoot())) {
    problems.add('hash', 'the root from stored hashes differs from the root of the stored leaves');
  }
  return problems.report(size, root, rootsAt);
}

/**
 * Calls visit(index, leafHash) for every stored leaf in order; returns how
 * many were read. A missing, unreadable or wrongly sized leaf tile is a leaf
 * problem and ends the stream.
 */
export function streamLeaves(
  tree: Pick<StoredTree, 'size' | 'leafTiles' | 'leafFormat'>,
  problems: { add(kind: TreeProblemKind, message: string): void },
  onProgress: ((leavesDone: number) => void) | undefined,
  visit: (index: number, leafHash: HashText) => void,
): number {
  const { size, leafFormat } = tree;
  const width = leafFormat.width;
  let next = 0;
  for (let k = 0; next < size; ) {
    const page = tree.leafTiles(k, PAGE_TILES);
    if (page.length === 0) {
      problems.add('leaf', `leaf tile ${k} (leaves ${next}–${Math.min(size, next + width) - 1}) is missing, and every one after it (size ${size})`);
      return next;
    }
    for (const [tileIndex, blob] of page) {
      const span = `leaf tile ${k} (leaves ${next}–${Math.min(size, next + width) - 1})`;
      if (tileIndex !== k) {
        problems.add('leaf', `${span} is missing`);
        return next;
      }
      if (!Buffer.isBuffer(blob)) {
        problems.add('leaf', `${span} is not a blob`);
        return next;
      }
      let leaves: Uint8Array[];
      try {
        leaves = leafFormat.decode(blob);
      } catch (err) {
        problems.add('leaf', `${span} cannot be decoded: ${(err as Error).message}`);
        return next;
      }
      const want = Math.min(width, size - next);
      if (leaves.length !== want) {
        problems.add('leaf', `${span} holds ${leaves.length} leaves, expected ${want}`);
        return next;
      }
      for (const leaf of leaves) visit(next++, leafHashText(leaf));
      k++;
      if (next >= size) break;
    }
    onProgress?.(next);
  }
  onProgress?.(next);
  return next;
}

/** Names what differs in a hash tile that does not match the recomputed one. */
function diagnoseTile(
  tree: StoredTree,
  tileLevel: number,
  tileIndex: number,
  tile: { parts: HashText[]; levels: number[]; indices: number[] },
  stored: unknown,
  problems: Problems,
  damagedLeaves: Map<number, HashText>,
  fromLeaves: EntryDigest,
): void {
  const name = tileName(tileLevel, tileIndex);
  if (stored === undefined) {
    problems.add('hash', `${name} is missing`);
    return;
  }
  if (!Buffer.isBuffer(stored)) {
    problems.add('hash', `${name} is not a blob`);
    return;
  }
  const want = tile.parts.length * HASH_SIZE;
  if (stored.length !== want) problems.add('hash', `${name} holds ${stored.length} bytes, expected ${want}`);
  const common = Math.min(tile.parts.length, Math.floor(stored.length / HASH_SIZE));
  for (let p = 0; p < common; p++) {
    const storedHash = stored.toString('latin1', p * HASH_SIZE, (p + 1) * HASH_SIZE) as HashText;
    const recomputed = tile.parts[p] as HashText;
    if (storedHash === recomputed) continue;
    const level = tile.levels[p] as number;
    const index = tile.indices[p] as number;
    if (level === 0) {
      const verdict = leafVerdict(tree, index);
      if (verdict === 'hash') {
        problems.add('hash', `${name}: the stored hash of leaf ${index} does not match the stored leaf`);
        continue;
      }
      problems.add(
        'leaf',
        verdict === 'leaf'
          ? `leaf ${index}: the stored leaf does not hash to its stored leaf hash, which the stored hashes above it agree with: the leaf is damaged`
          : `leaf ${index}: the stored leaf does not hash to its stored leaf hash, and no stored parent tells which of them is damaged: taken as a damaged leaf`,
      );
      damagedLeaves.set(index, storedHash);
      // The index is checked against the stored leaf hash of a damaged leaf.
      const h6Leaf = hashPrefix(recomputed);
      const h6Stored = hashPrefix(storedHash);
      if (tree.index.isOnDisk(index, h6Leaf)) fromLeaves.remove(h6Leaf, index);
      if (tree.index.isOnDisk(index, h6Stored)) fromLeaves.add(h6Stored, index);
      continue;
    }
    const left = tree.storedNode(level - 1, 2 * index);
    const right = tree.storedNode(level - 1, 2 * index + 1);
    if (left !== undefined && right !== undefined && interiorHashText(left, right) === storedHash) continue; // a damaged leaf below
    problems.add('hash', `${name}: the stored hash of node (level ${level}, index ${index}) does not match its children`);
  }
}

/** Whether the stored leaf or its stored hash changed, by the stored parent (see the top of this file). */
function leafVerdict(tree: StoredTree, index: number): 'leaf' | 'hash' | 'unknown' {
  const parent = Math.floor(index / 2);
  if ((parent + 1) * 2 > tree.size) return 'unknown';
  const stored = tree.storedNode(1, parent);
  const left = tree.storedNode(0, 2 * parent);
  const right = tree.storedNode(0, 2 * parent + 1);
  if (stored === undefined || left === undefined || right === undefined) return 'hash';
  return interiorHashText(left, right) === stored ? 'leaf' : 'hash';
}

/**
 * The leaf-hash index: the disk level holds exactly one entry per leaf it
 * covers and its filter has every prefix; every leaf from the memory level's
 * start is found at its own index, or at the first copy of it. Leaves stored
 * twice are collected as duplicates (all of them: one pass over every entry
 * in prefix order, across levels), and contradict a state that says every
 * leaf hash is unique.
 */
function checkIndex(tree: StoredTree, problems: Problems, damagedLeaves: Map<number, HashText>, fromLeaves: EntryDigest): void {
  const { index, size } = tree;
  const onDisk = new EntryDigest();
  let filterMisses = false;
  let badLevel = false;
  const rows = new Array<number>(MAX_DEDUP_LEVEL + 1).fill(0);
  const hashAt = (i: number): HashText | undefined => (i < size ? (damagedLeaves.get(i) ?? tree.storedNode(0, i)) : undefined);
  const repeats = new RepeatScan(hashAt, (first, again) => problems.duplicate(first, again));
  index.forEachEntryByPrefix((h6, i, level) => {
    repeats.add(h6, i);
    if (level === 0) return; // the memory level: derived from the stored hashes, checked below
    if (!filterMisses && !index.filterHas(h6)) {
      problems.add('index', `leaf-hash index: the filter misses the entry of leaf ${i}`);
      filterMisses = true;
    }
    if (Number.isInteger(level) && level >= 1 && level <= MAX_DEDUP_LEVEL) {
      rows[level] = (rows[level] as number) + 1;
    } else if (!badLevel) {
      problems.add('index', `leaf-hash index: the entry of leaf ${i} is at level ${String(level)}`);
      badLevel = true;
    }
    onDisk.add(h6, i);
  });
  repeats.end();
  if (!onDisk.equals(fromLeaves)) {
    diagnoseDiskIndex(tree, problems, damagedLeaves);
  } else {
    // The entries are right; the per-level counts that pace level moves must be too.
    for (let level = 1; level <= MAX_DEDUP_LEVEL; level++) {
      if (rows[level] !== index.expectedLevelRows(level)) {
        problems.add('index', `leaf-hash index: ${rows[level]} entries at level ${level}, its state says ${index.expectedLevelRows(level)}`);
        break;
      }
    }
  }

  const repeat = problems.duplicates[0];
  if (index.leafHashesUnique && repeat !== undefined) {
    problems.add('index', `leaf-hash index: its state says every leaf hash is unique, but leaf ${repeat[1]} repeats leaf ${repeat[0]}`);
  }

  for (let i = index.memoryFrom; i < size; i++) {
    const hash = damagedLeaves.get(i) ?? tree.storedNode(0, i);
    if (hash === undefined) continue; // a missing stored hash, reported with its tile
    const found = index.lookup(hash);
    // A lower index is an earlier copy (lookups confirm), which the pass above has collected.
    if (found === i || (found !== undefined && found < i)) continue;
    problems.add('index', `leaf-hash index: leaf ${i} is not found at its own index (${found === undefined ? 'not found' : `found at ${found}`})`);
  }
}

/** The disk level differs from the leaves: find the first missing and the first foreign entry. */
function diagnoseDiskIndex(tree: StoredTree, problems: Problems, damagedLeaves: Map<number, HashText>): void {
  const before = problems.count;
  const sink = { add: (): void => undefined };
  let missing: number | undefined;
  streamLeaves(tree, sink, undefined, (i, h) => {
    if (missing !== undefined) return;
    const h6 = hashPrefix(damagedLeaves.get(i) ?? h);
    if (tree.index.isOnDisk(i, h6) && !tree.index.hasDiskEntry(h6, i)) missing = i;
  });
  if (missing !== undefined) problems.add('index', `leaf-hash index: the entry of leaf ${missing} is missing`);
  let foreign: number | undefined;
  tree.index.forEachDiskEntry((h6, i) => {
    if (foreign !== undefined) return;
    const stored = i < tree.size ? (damagedLeaves.get(i) ?? tree.storedNode(0, i)) : undefined;
    if (stored === undefined || hashPrefix(stored) !== h6 || !tree.index.isOnDisk(i, h6)) foreign = i;
  });
  if (foreign !== undefined) problems.add('index', `leaf-hash index: an entry for index ${foreign} does not belong to leaf ${foreign}`);
  if (problems.count === before) problems.add('index', 'leaf-hash index: the on-disk entries do not match the stored leaves');
}

/** checkTree, throwing TreeIntegrityError with the first problem (for promotion). */
export function checkStoredTree(tree: StoredTree): { size: number; root: Hash } {
  const report = checkTree(tree);
  const first = report.problems[0];
  if (first !== undefined) throw new TreeIntegrityError(first.message);
  return { size: report.size, root: report.root as Hash };
}

/** The hashes a tree of `size` leaves needs: one per leaf and one per interior node of its complete subtrees. */
export function hashesForTree(size: number): number {
  let interior = 0;
  for (let level = 1; pow2(level) <= size; level++) interior += Math.floor(size / pow2(level));
  return size + interior;
}
