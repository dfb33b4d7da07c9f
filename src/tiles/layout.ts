// The C2SP tlog-tiles resource layout, as pure functions: tile and entry
// bundle paths (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`), which
// resources a tree of a given size has, and the entry bundle encoding (each
// entry prefixed by its big-endian uint16 length). For Sigsum, an entry is the
// 128-byte tree leaf, so level-0 tile hashes are exactly the Sigsum leaf hashes.
import { BadRequestError } from '../errors.js';

/** Hashes in a full tile, and entries in a full bundle. */
export const TILE_WIDTH = 256;
/** Tree levels spanned by one tile level. */
export const TILE_HEIGHT = 8;
/** Largest tile level the spec allows. */
export const MAX_TILE_LEVEL = 63;

export interface TileRef {
  /** A tile level, or 'entries' for an entry bundle. */
  readonly level: number | 'entries';
  readonly index: number;
  /** 1 … 256; 256 is a full tile (no `.p/` suffix). */
  readonly width: number;
}

/** The tree level of the hashes in tiles of tile level L (and of entries: 0). */
export function treeLevel(ref: TileRef): number {
  return ref.level === 'entries' ? 0 : ref.level * TILE_HEIGHT;
}

/** N as zero-padded 3-digit path elements, all but the last prefixed with x: 1234067 → x001/x234/067. */
export function formatTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`invalid tile index ${index}`);
  let n = index;
  const groups: string[] = [String(n % 1000).padStart(3, '0')];
  n = Math.floor(n / 1000);
  while (n > 0) {
    groups.unshift('x' + String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  }
  return groups.join('/');
}

/** The resource's path below the log's prefix, without a leading slash. */
export function formatTilePath(ref: TileRef): string {
  const level = ref.level === 'entries' ? 'entries' : String(ref.level);
  const suffix = ref.width === TILE_WIDTH ? '' : `.p/${ref.width}`;
  return `tile/${level}/${formatTileIndex(ref.index)}${suffix}`;
}

const DECIMAL = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * Parses the path segments after `tile/`: `<L>|entries`, the index groups,
 * and an optional `.p/<W>`. Only the canonical spelling is accepted (a
 * static server could not serve any other); anything else is 400.
 */
export function parseTilePath(segments: readonly string[]): TileRef {
  const bad = (why: string): never => {
    throw new BadRequestError(`tile path ${JSON.stringify(segments.join('/')).slice(0, 90)}: ${why}`);
  };
  if (segments.length < 2) bad('want tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]');
  const [levelText, ...rest] = segments as [string, ...string[]];
  let level: number | 'entries';
  if (levelText === 'entries') level = 'entries';
  else {
    if (!/^(?:0|[1-9][0-9]?)$/.test(levelText) || Number(levelText) > MAX_TILE_LEVEL) bad('level must be 0 … 63 without leading zeros, or "entries"');
    level = Number(levelText);
  }
  let width = TILE_WIDTH;
  if (rest.length >= 2 && (rest[rest.length - 2] as string).endsWith('.p')) {
    const widthText = rest.pop() as string;
    if (!DECIMAL.test(widthText) || Number(widthText) < 1 || Number(widthText) > 255) bad('partial width must be 1 … 255 without leading zeros');
    width = Number(widthText);
    rest[rest.length - 1] = (rest[rest.length - 1] as string).slice(0, -2);
  }
  if (rest.length === 0 || rest.length > 6) bad('index must be 1 to 6 path elements');
  let index = 0;
  rest.forEach((group, i) => {
    const last = i === rest.length - 1;
    const digits = last ? group : group.startsWith('x') ? group.slice(1) : bad('every index element but the last starts with x');
    if (!/^[0-9]{3}$/.test(digits)) bad('index elements are 3 digits');
    index = index * 1000 + Number(digits);
  });
  if (rest.length > 1 && (rest[0] as string) === 'x000') bad('index has a leading x000 element');
  if (!Number.isSafeInteger(index)) bad('index too large');
  return { level, index, width };
}

/** Width of the partial tile at a tile level for a tree of `size` leaves (0: none). */
export function partialTileWidth(tileLevel: number, size: number): number {
  return Math.floor(size / TILE_WIDTH ** tileLevel) % TILE_WIDTH;
}

/** Whether a tree of `size` leaves holds every hash (or entry) of the resource. */
export function coveredBy(ref: TileRef, size: number): boolean {
  const tileLevel = ref.level === 'entries' ? 0 : ref.level;
  const nodes = Math.floor(size / TILE_WIDTH ** tileLevel);
  return (ref.index * TILE_WIDTH + ref.width) <= nodes;
}

/**
 * Every resource of a tree of `size` leaves at one tile level: its full
 * tiles and its partial one (if any), in index order.
 */
export function tilesAtLevel(tileLevel: number, size: number): { full: number; partial: number } {
  const nodes = Math.floor(size / TILE_WIDTH ** tileLevel);
  return { full: Math.floor(nodes / TILE_WIDTH), partial: nodes % TILE_WIDTH };
}

/** The tile levels that hold at least one hash for a tree of `size` leaves. */
export function tileLevelCount(size: number): number {
  let levels = 0;
  while (Math.floor(size / TILE_WIDTH ** levels) > 0) levels++;
  return levels;
}

/** Entries as a bundle: each one prefixed by its length as a big-endian uint16. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of entries) {
    if (e.length > 0xffff) throw new RangeError(`entry of ${e.length} bytes does not fit a uint16 length`);
    total += 2 + e.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    out[at] = e.length >> 8;
    out[at + 1] = e.length & 0xff;
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

/** The entries of a bundle; throws RangeError on a truncated encoding. */
export function decodeEntryBundle(bundle: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bundle.length) {
    if (at + 2 > bundle.length) throw new RangeError(`entry bundle: truncated length at byte ${at}`);
    const n = ((bundle[at] as number) << 8) | (bundle[at + 1] as number);
    if (at + 2 + n > bundle.length) throw new RangeError(`entry bundle: entry at byte ${at} runs past the end`);
    out.push(bundle.subarray(at + 2, at + 2 + n));
    at += 2 + n;
  }
  return out;
}
