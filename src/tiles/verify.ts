// Reading and checking a log served as tlog-tiles, by anyone (a static
// server, a CDN, a node): fetch the checkpoint, check its log signature, fetch
// every tile and entry bundle it covers, and check that they fit together:
// each entry hashes to its level-0 hash, each hash at level L+1 is the Merkle
// hash of the full tile below it, and the root computed from the tiles is
// the checkpoint's. With an earlier checkpoint, the tiles must also give its
// root at its size (the new tree extends the old one).
import { verifyTreeHeadSignature } from '../formats/checkpoint.js';
import { parseSigsumCheckpointNote } from '../formats/signed-note.js';
import type { SignedTreeHead } from '../formats/tree-head.js';
import { TREE_LEAF_SIZE } from '../formats/leaf.js';
import { bytesEqual, toHex } from '../hex.js';
import { emptyRoot, interiorHash, leafHash, rootFromLeafHashes } from '../tree/hash.js';
import { rootHash, type NodeReader } from '../tree/proof.js';
import { asHash, HASH_SIZE, type Hash, type PublicKey } from '../types.js';
import { inPool } from './pool.js';
import { decodeEntryBundle, formatTilePath, TILE_HEIGHT, TILE_WIDTH, tileLevelCount, tilesAtLevel, type TileRef } from './layout.js';

/** Where the resources come from; declared here, by its consumer. */
export interface TileSource {
  /** The resource at `path` below the log's prefix ("checkpoint", "tile/0/000"); undefined when it is not there (404). */
  get(path: string): Promise<Uint8Array | undefined>;
}

export class TileCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TileCheckError';
  }
}

/** Parses and verifies a checkpoint note of this log; TileCheckError when it is not one. */
export function readCheckpoint(text: Uint8Array | string, logPublicKey: PublicKey, what: string): SignedTreeHead {
  let sth: SignedTreeHead;
  try {
    sth = parseSigsumCheckpointNote(text, logPublicKey);
  } catch (err) {
    throw new TileCheckError(`${what}: ${(err as Error).message}`);
  }
  if (!verifyTreeHeadSignature(logPublicKey, sth)) throw new TileCheckError(`${what}: the log signature does not verify`);
  return sth;
}

/**
 * The tree of a checkpoint, as far as its tiles go: node (level, index) from
 * the tile that holds it, or hashed up from the one below for levels between
 * tile levels. Only nodes within the tree are asked for (NodeReader's rule).
 */
export class TileNodeReader implements NodeReader {
  /** Tiles by level, then index: 32-byte hashes, concatenated. */
  readonly tiles = new Map<number, Map<number, Uint8Array>>();

  node(level: number, index: number): Hash {
    const rest = level % TILE_HEIGHT;
    if (rest !== 0) return interiorHash(this.node(level - 1, 2 * index), this.node(level - 1, 2 * index + 1));
    const tile = this.tiles.get(level / TILE_HEIGHT)?.get(Math.floor(index / TILE_WIDTH));
    const at = (index % TILE_WIDTH) * HASH_SIZE;
    if (tile === undefined || tile.length < at + HASH_SIZE) throw new TileCheckError(`no tile holds node (${level}, ${index})`);
    return asHash(tile.slice(at, at + HASH_SIZE));
  }
}

export interface TileCheckResult {
  checkpoint: SignedTreeHead;
  /** Resources fetched, checkpoint included. */
  fetched: number;
  reader: TileNodeReader;
}

export interface TileCheckOptions {
  source: TileSource;
  logPublicKey: PublicKey;
  /** An earlier checkpoint of the log (verified here) that the new one must extend. */
  since?: Uint8Array | string;
  /** Requests in flight. */
  parallel?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Checks everything; resolves with what it read, rejects with TileCheckError on the first mismatch. */
export async function checkTiles(opts: TileCheckOptions): Promise<TileCheckResult> {
  const { source, logPublicKey } = opts;
  const old = opts.since === undefined ? undefined : readCheckpoint(opts.since, logPublicKey, '--since checkpoint');
  const text = await source.get('checkpoint');
  if (text === undefined) throw new TileCheckError('checkpoint: not found');
  const checkpoint = readCheckpoint(text, logPublicKey, 'checkpoint');
  const size = checkpoint.size;
  if (old !== undefined && old.size > size) throw new TileCheckError(`the checkpoint (size ${size}) is smaller than the --since checkpoint (size ${old.size})`);

  const refs: TileRef[] = [];
  for (let level = 0; level < tileLevelCount(size); level++) pushLevel(refs, level, size);
  if (size > 0) pushLevel(refs, 'entries', size);
  const reader = new TileNodeReader();
  const bundles = new Map<number, Uint8Array>();
  let done = 0;
  await inPool(refs, opts.parallel ?? 8, async (ref) => {
    const path = formatTilePath(ref);
    const body = await source.get(path);
    if (body === undefined) throw new TileCheckError(`${path}: not found, but the checkpoint (size ${size}) covers it`);
    if (ref.level === 'entries') bundles.set(ref.index, body);
    else {
      if (body.length !== ref.width * HASH_SIZE) throw new TileCheckError(`${path}: ${body.length} bytes, want ${ref.width * HASH_SIZE}`);
      let level = reader.tiles.get(ref.level);
      if (level === undefined) reader.tiles.set(ref.level, (level = new Map()));
      level.set(ref.index, body);
    }
    opts.onProgress?.(++done, refs.length);
  });

  // Entries hash to the level-0 hashes.
  for (const [index, bundle] of bundles) {
    const path = formatTilePath(refs.find((r) => r.level === 'entries' && r.index === index) as TileRef);
    let entries: Uint8Array[];
    try {
      entries = decodeEntryBundle(bundle);
    } catch (err) {
      throw new TileCheckError(`${path}: ${(err as Error).message}`);
    }
    const tile = reader.tiles.get(0)?.get(index) as Uint8Array;
    if (entries.length * HASH_SIZE !== tile.length) throw new TileCheckError(`${path}: ${entries.length} entries, but its level-0 tile has ${tile.length / HASH_SIZE} hashes`);
    entries.forEach((entry, i) => {
      if (entry.length !== TREE_LEAF_SIZE) throw new TileCheckError(`${path}: entry ${i} is ${entry.length} bytes, not a ${TREE_LEAF_SIZE}-byte Sigsum leaf`);
      if (!bytesEqual(leafHash(entry), tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
        throw new TileCheckError(`${path}: entry ${i} (leaf ${index * TILE_WIDTH + i}) does not hash to its level-0 tile hash`);
      }
    });
  }
  // Each hash above level 0 is the Merkle hash of the full tile below it.
  for (const [level, tiles] of reader.tiles) {
    if (level === 0) continue;
    for (const [index, tile] of tiles) {
      for (let i = 0; i < tile.length / HASH_SIZE; i++) {
        const below = reader.tiles.get(level - 1)?.get(index * TILE_WIDTH + i);
        if (below === undefined || below.length !== TILE_WIDTH * HASH_SIZE) throw new TileCheckError(`tile ${level}/${index}: hash ${i} has no full tile below it`);
        const hashes = Array.from({ length: TILE_WIDTH }, (_, j) => asHash(below.subarray(j * HASH_SIZE, (j + 1) * HASH_SIZE)));
        if (!bytesEqual(rootFromLeafHashes(hashes), tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
          throw new TileCheckError(`${formatTilePath({ level, index, width: tile.length / HASH_SIZE })}: hash ${i} is not the Merkle hash of the tile below it`);
        }
      }
    }
  }
  const root = size === 0 ? emptyRoot() : rootHash(reader, size);
  if (!bytesEqual(root, checkpoint.rootHash)) throw new TileCheckError(`the tiles give root ${toHex(root)} at size ${size}, the checkpoint says ${toHex(checkpoint.rootHash)}`);
  if (old !== undefined) {
    const oldRoot = old.size === 0 ? emptyRoot() : rootHash(reader, old.size);
    if (!bytesEqual(oldRoot, old.rootHash)) {
      throw new TileCheckError(`not consistent with the --since checkpoint: the tiles give root ${toHex(oldRoot)} at size ${old.size}, it says ${toHex(old.rootHash)}`);
    }
  }
  return { checkpoint, fetched: refs.length + 1, reader };
}

function pushLevel(out: TileRef[], level: number | 'entries', size: number): void {
  const { full, partial } = tilesAtLevel(level === 'entries' ? 0 : level, size);
  for (let index = 0; index < full; index++) out.push({ level, index, width: TILE_WIDTH });
  if (partial > 0) out.push({ level, index: full, width: partial });
}


/** A TileSource over HTTP(S): base URL including the log's prefix; 404 is "not there", any other non-200 an error. */
export function httpTileSource(baseUrl: string, timeoutMs = 10_000): TileSource {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async get(path) {
      let res: Response;
      try {
        res = await fetch(`${base}/${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new TileCheckError(`${base}/${path}: ${(err as Error)?.cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
      }
      if (res.status === 404) {
        await res.arrayBuffer();
        return undefined;
      }
      if (res.status !== 200) throw new TileCheckError(`${base}/${path}: HTTP ${res.status}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
