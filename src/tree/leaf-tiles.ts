import { TreeIntegrityError } from './errors.js';

// Encodings of a leaf tile: up to `width` consecutive leaves in one row, each
// as its length followed by its bytes. Leaves are opaque to the tree, so their
// length is recorded; appending leaves appends bytes, so a partial tile on the
// right edge is a prefix of its final content.
//
// A file uses one format for all its tiles, recorded in tree_state
// (`leaf_format`) when the file is created:
// - format 1 (schema 2 and older files): 30 leaves per tile, each length a
//   4-byte big-endian integer. 30 Sigsum leaves are 3,960 bytes: one 4 KiB
//   page, 136.5 bytes of file per leaf.
// - format 2 (files created since schema 3): 31 leaves per tile, each length
//   a LEB128 varint (2 bytes for a 128-byte Sigsum leaf). 31 × 130 = 4,030
//   bytes still fits one page without an overflow page (SQLite stores up to
//   4,061 bytes of a row in a 4 KiB table page): 132.1 bytes per leaf, 4.4
//   less, which is what brings a 10M-leaf file under 220 bytes per leaf.
// An older file keeps format 1: rewriting every leaf of a large log to save
// 2% of its size is not worth a migration that long.

/** Largest leaf either encoding holds (2^32-1 bytes); SQLite's 1 GB blob limit bites long before. */
const MAX_LEAF_BYTES = 0xffffffff;

export interface LeafTileFormat {
  /** The value of tree_state `leaf_format`. */
  readonly id: 1 | 2;
  /** Leaves per tile: leaf i is in tile floor(i / width). */
  readonly width: number;
  encode(leaves: readonly Uint8Array[]): Buffer;
  /**
   * The leaves of a tile, as views into `tile` (copy them if the tile buffer
   * may be reused). Throws TreeIntegrityError on a truncated or overlong encoding.
   */
  decode(tile: Uint8Array): Uint8Array[];
  /** Byte length of the first `count` leaves of an encoded tile; throws TreeIntegrityError if it holds fewer. */
  prefixBytes(tile: Uint8Array, count: number): number;
}

function checkLength(leaf: Uint8Array): void {
  if (leaf.length > MAX_LEAF_BYTES) throw new RangeError(`leaf of ${leaf.length} bytes is too large`);
}

/** Reads one length at `at`: [length, bytes it took], or undefined if the tile ends inside it. */
type LengthReader = (tile: Uint8Array, at: number) => [number, number] | undefined;

function readU32(tile: Uint8Array, at: number): [number, number] | undefined {
  if (at + 4 > tile.length) return undefined;
  return [(((tile[at] as number) << 24) >>> 0) + ((tile[at + 1] as number) << 16) + ((tile[at + 2] as number) << 8) + (tile[at + 3] as number), 4];
}

function readVarint(tile: Uint8Array, at: number): [number, number] | undefined {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (at + i >= tile.length) return undefined;
    const byte = tile[at + i] as number;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (value > MAX_LEAF_BYTES) throw new TreeIntegrityError('corrupt leaf tile: leaf length out of range');
      return [value, i + 1];
    }
  }
  throw new TreeIntegrityError('corrupt leaf tile: leaf length longer than 5 bytes');
}

function varintBytes(n: number): number {
  let bytes = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) bytes++;
  return bytes;
}

function writeVarint(out: Buffer, at: number, n: number): number {
  let v = n;
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

function decodeWith(readLength: LengthReader, tile: Uint8Array): Uint8Array[] {
  const leaves: Uint8Array[] = [];
  let at = 0;
  while (at < tile.length) {
    const length = readLength(tile, at);
    if (length === undefined) throw new TreeIntegrityError('corrupt leaf tile: truncated length');
    const end = at + length[1] + length[0];
    if (end > tile.length) throw new TreeIntegrityError('corrupt leaf tile: truncated leaf');
    leaves.push(tile.subarray(at + length[1], end));
    at = end;
  }
  return leaves;
}

function prefixWith(readLength: LengthReader, tile: Uint8Array, count: number): number {
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = readLength(tile, at);
    if (length === undefined) throw new TreeIntegrityError(`corrupt leaf tile: fewer than ${count} leaves`);
    at += length[1] + length[0];
  }
  if (at > tile.length) throw new TreeIntegrityError(`corrupt leaf tile: fewer than ${count} leaves`);
  return at;
}

/** Encodes leaves, each as its length (lengthBytes of them, written by writeLength) and its bytes. */
function encodeWith(lengthBytes: (n: number) => number, writeLength: (out: Buffer, at: number, n: number) => number, leaves: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const leaf of leaves) {
    checkLength(leaf);
    total += lengthBytes(leaf.length) + leaf.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const leaf of leaves) {
    at = writeLength(out, at, leaf.length);
    out.set(leaf, at);
    at += leaf.length;
  }
  return out;
}

const writeU32 = (out: Buffer, at: number, n: number): number => out.writeUInt32BE(n, at);

export const LEAF_FORMAT_1: LeafTileFormat = {
  id: 1,
  width: 30,
  encode: (leaves) => encodeWith(() => 4, writeU32, leaves),
  decode: (tile) => decodeWith(readU32, tile),
  prefixBytes: (tile, count) => prefixWith(readU32, tile, count),
};

export const LEAF_FORMAT_2: LeafTileFormat = {
  id: 2,
  width: 31,
  encode: (leaves) => encodeWith(varintBytes, writeVarint, leaves),
  decode: (tile) => decodeWith(readVarint, tile),
  prefixBytes: (tile, count) => prefixWith(readVarint, tile, count),
};

/** The format new files are created with. */
export const NEW_FILE_LEAF_FORMAT = LEAF_FORMAT_2;

/** The format a file's tree_state `leaf_format` names; throws for a value this program does not know. */
export function leafTileFormat(id: unknown): LeafTileFormat {
  if (id === 1) return LEAF_FORMAT_1;
  if (id === 2) return LEAF_FORMAT_2;
  throw new TreeIntegrityError(`unknown leaf tile format ${String(id)} in tree_state`);
}
