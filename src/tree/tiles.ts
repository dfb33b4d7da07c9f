// Where each stored hash lives. Pure arithmetic, shared by the store, its
// integrity check and tests.
//
// Every complete subtree's hash is stored once (as in golang.org/x/mod/sumdb/tlog),
// grouped into hash tiles so that one row read yields a 6-level slice of a
// proof path. Hash tile (L, k) holds the nodes at levels L·H .. L·H+H-1 that
// lie under node (L·H+H, k), i.e. a complete binary tree of height H minus its
// root (which belongs to tile (L+1, k>>H) as a base node). Within a tile,
// hashes are in tlog's stored-hash order: for each base node in turn, the base
// node, then every ancestor it completes. That order is append-only, so a
// partial tile on the right edge of the tree is a prefix of its final content
// and appending leaves only appends bytes to tiles.
//
// H = 6 makes a full tile 126 hashes = 4,032 bytes: one row that fits in one
// 4 KiB SQLite page without overflow pages, so a random proof costs about one
// uncached page read (the leaf's tile); the tiles above it are few and stay in
// cache (a 1M-leaf tree has 15,625 tiles at level 0, 244 at level 1, 5 above). H = 8 tiles
// (16 KiB, five pages each) measured about 40% fewer proofs per second.
//
// Leaf tiles (leaf-tiles.ts) group 30 or 31 consecutive leaves per row for the
// same reason as hash tiles: few rows, and few statements per appended batch.

import { pow2 } from './sizes.js';
import { HASH_SIZE } from '../types.js';

/** Levels per hash tile (H). */
export const TILE_HEIGHT = 6;
/** Base nodes per full hash tile: 2^H. */
export const TILE_WIDTH = 2 ** TILE_HEIGHT;
/** Hashes in a full hash tile: 2^H + 2^(H-1) + … + 2 = 2^(H+1) - 2 (126 for H = 6). */
export const FULL_TILE_HASHES = 2 * TILE_WIDTH - 2;

// Tile ids pack (L, k) into one safe integer: k < 2^53 / 2^H = 2^47 and
// L ≤ 53/H < 9, so L·2^47 + k < 9·2^47 < 2^51.
const LEVEL_STRIDE = 2 ** (53 - TILE_HEIGHT);

export interface TileAddress {
  /** Tile level L: the tile holds tree levels L·H .. L·H+H-1. 0 ≤ L ≤ 8. */
  readonly tileLevel: number;
  /** Tile index k at its level: covers base nodes k·2^H .. k·2^H+2^H-1. */
  readonly tileIndex: number;
  /** Position of the node's hash in the tile, in hashes: 0 ≤ position < FULL_TILE_HASHES. */
  readonly position: number;
}

export function tileId(tileLevel: number, tileIndex: number): number {
  return tileLevel * LEVEL_STRIDE + tileIndex;
}

/** Ids of all tiles at tileLevel are in [firstTileId(L), firstTileId(L+1)). */
export function firstTileId(tileLevel: number): number {
  return tileLevel * LEVEL_STRIDE;
}

/**
 * Position in tlog's stored-hash order of node (level, index) of a tree:
 * Σ_{l≥0} floor(m/2^l) + level, where m = (index+1)·2^level - 1 is the
 * node's last leaf. Used within one tile, so arguments are small.
 */
function storedOrderPosition(level: number, index: number): number {
  let m = (index + 1) * pow2(level) - 1;
  let position = level;
  while (m > 0) {
    position += m;
    m = Math.floor(m / 2);
  }
  return position;
}

// storedOrderPosition(j, k) for every node of one tile (level j within it, k
// among the 2^(H-j) nodes of that level), so a lookup on the proof path is one
// array read instead of a loop: POSITIONS[POSITION_ROW[j] + k].
const POSITION_ROW: number[] = [];
const POSITIONS: number[] = [];
for (let j = 0; j < TILE_HEIGHT; j++) {
  POSITION_ROW.push(POSITIONS.length);
  for (let k = 0; k < pow2(TILE_HEIGHT - j); k++) POSITIONS.push(storedOrderPosition(j, k));
}

/** Where node (level, index) of the tree is stored. 0 ≤ level ≤ 53, 0 ≤ index < 2^(53-level). */
export function nodeAddress(level: number, index: number): TileAddress {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const j = level - tileLevel * TILE_HEIGHT;
  const nodesPerTile = pow2(TILE_HEIGHT - j);
  const tileIndex = Math.floor(index / nodesPerTile);
  return { tileLevel, tileIndex, position: POSITIONS[(POSITION_ROW[j] as number) + index - tileIndex * nodesPerTile] as number };
}

/** Id of the tile holding node (level, index); nodeAddress without the position. */
export function nodeTileId(level: number, index: number): number {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const j = level - tileLevel * TILE_HEIGHT;
  return tileId(tileLevel, Math.floor(index / pow2(TILE_HEIGHT - j)));
}

/** Number of hashes stored in a tile whose base level has `width` complete nodes (0 ≤ width ≤ 2^H). */
export function tileHashCount(width: number): number {
  let count = 0;
  for (let j = 0; j < TILE_HEIGHT; j++) count += Math.floor(width / pow2(j));
  return count;
}

/** Bytes of tile (L, k) in a tree of `size` leaves: 0 when the tile does not exist yet. */
export function tileBytes(tileLevel: number, tileIndex: number, size: number): number {
  const baseNodes = Math.floor(size / pow2(tileLevel * TILE_HEIGHT));
  const width = Math.min(TILE_WIDTH, Math.max(0, baseNodes - tileIndex * TILE_WIDTH));
  return tileHashCount(width) * HASH_SIZE;
}

/** Number of tiles at tileLevel in a tree of `size` leaves, counting a partial one. */
export function tileCount(tileLevel: number, size: number): number {
  const baseNodes = Math.floor(size / pow2(tileLevel * TILE_HEIGHT));
  return Math.ceil(baseNodes / TILE_WIDTH);
}

/** Tile levels that hold at least one node in a tree of `size` leaves. */
export function tileLevels(size: number): number {
  let levels = 0;
  while (tileCount(levels, size) > 0) levels++;
  return levels;
}
