import { TreeIntegrityError } from './errors.js';

// Encoding of a leaf tile: up to LEAF_TILE_WIDTH leaves, each as a 4-byte
// big-endian length followed by the leaf bytes. Leaves are opaque to the
// tree, so their length is recorded; appending leaves appends bytes.

/** Largest leaf the encoding can hold (2^32-1 bytes); SQLite's 1 GB blob limit bites long before. */
const MAX_LEAF_BYTES = 0xffffffff;

export function encodeLeaves(leaves: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const leaf of leaves) {
    if (leaf.length > MAX_LEAF_BYTES) throw new RangeError(`leaf of ${leaf.length} bytes is too large`);
    total += 4 + leaf.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const leaf of leaves) {
    out.writeUInt32BE(leaf.length, at);
    out.set(leaf, at + 4);
    at += 4 + leaf.length;
  }
  return out;
}

/**
 * The leaves of a tile, as views into `tile` (copy them if the tile buffer
 * may be reused). Throws on a truncated or overlong encoding.
 */
export function decodeLeaves(tile: Uint8Array): Uint8Array[] {
  const view = new DataView(tile.buffer, tile.byteOffset, tile.byteLength);
  const leaves: Uint8Array[] = [];
  let at = 0;
  while (at < tile.length) {
    if (at + 4 > tile.length) throw new TreeIntegrityError('corrupt leaf tile: truncated length');
    const length = view.getUint32(at);
    const end = at + 4 + length;
    if (end > tile.length) throw new TreeIntegrityError('corrupt leaf tile: truncated leaf');
    leaves.push(tile.subarray(at + 4, end));
    at = end;
  }
  return leaves;
}

/** Byte length of the first `count` leaves of an encoded tile; throws if it holds fewer. */
export function prefixBytes(tile: Uint8Array, count: number): number {
  const view = new DataView(tile.buffer, tile.byteOffset, tile.byteLength);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > tile.length) throw new TreeIntegrityError(`corrupt leaf tile: fewer than ${count} leaves`);
    at += 4 + view.getUint32(at);
  }
  if (at > tile.length) throw new TreeIntegrityError(`corrupt leaf tile: fewer than ${count} leaves`);
  return at;
}
