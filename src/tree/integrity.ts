// The full consistency check behind TreeStore.verifyIntegrity: recompute every
// stored hash from the stored leaves and compare. Streams leaf tiles a page at
// a time and keeps one hash tile per tile level under construction, so memory
// stays bounded whatever the tree size; O(size) time.
import { hashPrefix } from './dedup.js';
import { EntryDigest } from './entry-digest.js';
import { RightEdge } from './compact.js';
import { TreeIntegrityError } from './errors.js';
import { leafHashText, type HashText } from './hash.js';
import { decodeLeaves } from './leaf-tiles.js';
import { firstTileId, LEAF_TILE_WIDTH, nodeTileId, TILE_HEIGHT, tileCount, tileLevels } from './tiles.js';
import { bytesEqual } from '../hex.js';
import type { Hash } from '../types.js';

const PAGE_TILES = 64;

/** What the check reads, all from one snapshot of the store. */
export interface StoredTree {
  readonly size: number;
  /** Up to `limit` rows [k, leaves] of leaf tiles with k ≥ from, in k order. */
  leafTiles(from: number, limit: number): Array<[number, unknown]>;
  leafTileCount(): number;
  /** The stored blob of a hash tile, or undefined. */
  hashTile(id: number): unknown;
  hashTileCount(): number;
  readonly index: {
    isOnDisk(index: number, h6: number): boolean;
    diskDigest(): EntryDigest;
  };
  /** The root as proofs compute it, from stored hashes. */
  storedRoot(): Hash;
}

/** Throws TreeIntegrityError naming the first problem; returns the recomputed head. */
export function checkStoredTree(tree: StoredTree): { size: number; root: Hash } {
  const { size } = tree;
  const edge = new RightEdge(0, []);
  const fromLeaves = new EntryDigest();
  // The tile under construction at each tile level; nodes of one tile arrive
  // consecutively (stored order), so a new id means the previous one is done.
  const building = new Map<number, { id: number; parts: HashText[] }>();
  const finish = (tileLevel: number): void => {
    const tile = building.get(tileLevel);
    if (tile === undefined) return;
    const stored = tree.hashTile(tile.id);
    if (!Buffer.isBuffer(stored) || Buffer.from(tile.parts.join(''), 'latin1').compare(stored) !== 0) {
      const k = tile.id - firstTileId(tileLevel);
      throw new TreeIntegrityError(`hash tile (level ${tileLevel}, index ${k}) does not match the stored leaves`);
    }
    building.delete(tileLevel);
  };
  const sink = (level: number, index: number, hash: HashText): void => {
    const id = nodeTileId(level, index);
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    if (building.get(tileLevel)?.id !== id) {
      finish(tileLevel);
      building.set(tileLevel, { id, parts: [] });
    }
    building.get(tileLevel)?.parts.push(hash);
  };

  let next = 0;
  for (let k = 0; next < size; ) {
    const page = tree.leafTiles(k, PAGE_TILES);
    if (page.length === 0) throw new TreeIntegrityError(`leaves from ${next} are missing (size ${size})`);
    for (const [tileIndex, blob] of page) {
      if (tileIndex !== k) throw new TreeIntegrityError(`leaf tile ${k} is missing (size ${size})`);
      if (!Buffer.isBuffer(blob)) throw new TreeIntegrityError(`leaf tile ${k} is not a blob`);
      const leaves = decodeLeaves(blob);
      const want = Math.min(LEAF_TILE_WIDTH, size - next);
      if (leaves.length !== want) throw new TreeIntegrityError(`leaf tile ${k} holds ${leaves.length} leaves, expected ${want}`);
      for (const leaf of leaves) {
        const h = leafHashText(leaf);
        const h6 = hashPrefix(h);
        if (tree.index.isOnDisk(next, h6)) fromLeaves.add(h6, next);
        edge.push(h, sink);
        next++;
      }
      k++;
    }
  }
  for (const tileLevel of [...building.keys()]) finish(tileLevel);

  const leafTiles = tree.leafTileCount();
  if (leafTiles !== Math.ceil(size / LEAF_TILE_WIDTH)) {
    throw new TreeIntegrityError(`${leafTiles} leaf tiles stored for ${size} leaves`);
  }
  let wantHashTiles = 0;
  for (let level = 0; level < tileLevels(size); level++) wantHashTiles += tileCount(level, size);
  const hashTiles = tree.hashTileCount();
  if (hashTiles !== wantHashTiles) {
    throw new TreeIntegrityError(`${hashTiles} hash tiles stored for ${size} leaves, expected ${wantHashTiles}`);
  }
  if (!tree.index.diskDigest().equals(fromLeaves)) {
    throw new TreeIntegrityError('the on-disk leaf-hash index does not match the stored leaves');
  }
  const root = edge.root();
  if (!bytesEqual(root, tree.storedRoot())) {
    throw new TreeIntegrityError('the root from stored hashes differs from the root of the stored leaves');
  }
  return { size, root };
}
