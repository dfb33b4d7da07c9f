// Shared fixtures for the tree tests: temp directories, deterministic leaves,
// an in-memory node reader, and RFC 6962 reference vectors.
import { mkdtempSync, rmSync } from 'node:fs';
import { after, before } from 'node:test';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interiorHash, leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import type { NodeReader } from '../../src/tree/proof.js';
import { fromHex } from '../../src/hex.js';
import { leafTileFormat, LEAF_FORMAT_1 } from '../../src/tree/leaf-tiles.js';
import { TreeStore, type TreeStoreOptions } from '../../src/tree/store.js';
import { asHash, type Hash } from '../../src/types.js';

/** A fresh temp directory and a function removing it (call from `after`/`finally`). */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tree-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function dbPath(dir: string, name = 'tree.db'): string {
  return join(dir, name);
}

/** Runs fn on its own connection to the database file at path, closed afterwards. */
export function withDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/**
 * For one test file (call at its top level): newPath gives a fresh database
 * path in a temp directory removed after the file's last test, and open()'s
 * stores are closed then if a test did not close them.
 */
export function storeFiles(): { newPath: (prefix: string) => string; open: (path: string, options?: TreeStoreOptions) => TreeStore } {
  let dir = '';
  let cleanup = (): void => {};
  let files = 0;
  const opened: TreeStore[] = [];
  before(() => ({ dir, cleanup } = tempDir()));
  after(() => {
    for (const store of opened) if (store.db.open) store.close();
    cleanup();
  });
  return {
    newPath: (prefix) => dbPath(dir, `${prefix}-${files++}.db`),
    open: (path, options = {}) => {
      const store = TreeStore.open(path, options);
      opened.push(store);
      return store;
    },
  };
}

/** Leaf i of a deterministic family: distinct for distinct (i, tag), varying in length. */
export function leafOf(i: number, tag = 'leaf'): Uint8Array {
  return new TextEncoder().encode(`${tag}-${i}-${'x'.repeat(i % 7)}`);
}

export function leavesOf(start: number, end: number, tag = 'leaf'): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = start; i < end; i++) out.push(leafOf(i, tag));
  return out;
}

/** Roots of every prefix [0, n] of the leaves, recomputed from scratch. */
export function prefixRoots(leaves: readonly Uint8Array[]): Hash[] {
  const hashes = leaves.map(leafHash);
  const roots: Hash[] = [];
  for (let n = 0; n <= hashes.length; n++) roots.push(rootFromLeafHashes(hashes.slice(0, n)));
  return roots;
}

/**
 * Leaves [0, count) of the deterministic family, a reader over them, and the
 * root of every prefix [0, n] recomputed from scratch: the tree the exhaustive
 * proof tests check every size of.
 */
export function prefixTrees(count: number): { leaves: Uint8Array[]; reader: NodeReader; roots: Hash[] } {
  const leaves = leavesOf(0, count);
  return { leaves, reader: memoryReader(leaves), roots: prefixRoots(leaves) };
}

/** A NodeReader over all complete subtrees of the given leaves, held in memory. */
export function memoryReader(leaves: readonly Uint8Array[]): NodeReader {
  const levels: Hash[][] = [leaves.map(leafHash)];
  for (;;) {
    const below = levels[levels.length - 1] as Hash[];
    if (below.length < 2) break;
    const above: Hash[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) above.push(interiorHash(below[i] as Hash, below[i + 1] as Hash));
    levels.push(above);
  }
  return {
    node(level, index) {
      const h = levels[level]?.[index];
      if (h === undefined) throw new RangeError(`no node (${level}, ${index})`);
      return h;
    },
  };
}

export function h(hex: string): Hash {
  return asHash(fromHex(hex));
}

/** Flips one bit of byte `at` in a copy. */
export function flipped(hash: Uint8Array, at: number): Hash {
  const copy = new Uint8Array(hash);
  copy[at] = (copy[at] as number) ^ 0x01;
  return copy as Hash;
}

// Reference data: the 8-leaf RFC 6962 tree used by transparency-dev/merkle
// (testonly/constants.go; proof/verify_test.go), values copied.
export const RFC_LEAVES: readonly Uint8Array[] = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(fromHex);

/** Node hashes by [level][index] of the complete subtrees of RFC_LEAVES. */
export const RFC_NODES: readonly (readonly Hash[])[] = [
  [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
    '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
  ].map(h),
  [
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
  ].map(h),
  [
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ].map(h),
  ['5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'].map(h),
];

/** Roots of RFC_LEAVES[0:n] for n = 0..8. */
export const RFC_ROOTS: readonly Hash[] = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map(h);

/** Inclusion proofs in RFC_LEAVES trees: leaf index (0-based), tree size, path. */
export const RFC_INCLUSION: ReadonlyArray<{ index: number; size: number; path: Hash[] }> = [
  { index: 0, size: 1, path: [] },
  {
    index: 0,
    size: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ].map(h),
  },
  {
    index: 5,
    size: 8,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ].map(h),
  },
  { index: 2, size: 3, path: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'].map(h) },
  {
    index: 1,
    size: 5,
    path: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ].map(h),
  },
];

/** Consistency proofs between RFC_LEAVES trees. */
export const RFC_CONSISTENCY: ReadonlyArray<{ oldSize: number; newSize: number; path: Hash[] }> = [
  { oldSize: 1, newSize: 1, path: [] },
  {
    oldSize: 1,
    newSize: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ].map(h),
  },
  {
    oldSize: 6,
    newSize: 8,
    path: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ].map(h),
  },
  {
    oldSize: 2,
    newSize: 5,
    path: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ].map(h),
  },
  {
    oldSize: 6,
    newSize: 7,
    path: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ].map(h),
  },
];

/** The rolling check used by callers that want one equality over many hashes. */
export function rootsOf(leaves: readonly Uint8Array[]): Hash {
  return rootFromLeafHashes(leaves.map(leafHash));
}

/**
 * Rewrites the leaf tiles of a file created by this version (leaf format 2,
 * 31 per tile) as schema 2 and older wrote them (format 1: 30 per tile, 4-byte
 * lengths) and drops the leaf_format record: for fixtures of older versions.
 * Inside the caller's transaction on `db`.
 */
export function rewriteLeafTilesAsFormat1(db: import('better-sqlite3').Database): void {
  const format = leafTileFormat(db.prepare("SELECT value FROM tree_state WHERE name = 'leaf_format'").pluck().get());
  const leaves: Uint8Array[] = [];
  for (const blob of db.prepare('SELECT leaves FROM tree_leaf_tiles ORDER BY k').pluck().all() as Buffer[]) {
    for (const leaf of format.decode(blob)) leaves.push(Buffer.from(leaf));
  }
  db.prepare('DELETE FROM tree_leaf_tiles').run();
  const put = db.prepare('INSERT INTO tree_leaf_tiles (k, leaves) VALUES (?, ?)');
  for (let k = 0; k * LEAF_FORMAT_1.width < leaves.length; k++) {
    put.run(k, LEAF_FORMAT_1.encode(leaves.slice(k * LEAF_FORMAT_1.width, (k + 1) * LEAF_FORMAT_1.width)));
  }
  db.prepare("DELETE FROM tree_state WHERE name = 'leaf_format'").run();
}

/**
 * Rewrites the leaf-hash filter as schema 3 and older stored it: 25 bits (one
 * per top 25 bits of the 6-byte prefix), 32 rows of 128 KiB, each covering
 * every disk entry of its prefix range, and no dedup_filter_upto record.
 * Computed from the disk entries, so it is the filter those versions held.
 * Inside the caller's transaction.
 */
export function rewriteFilterAsSchema3(db: import('better-sqlite3').Database): void {
  const bits = new Uint8Array(2 ** 22);
  for (const h6 of db.prepare('SELECT h6 FROM tree_dedup').pluck().iterate() as Iterable<number>) {
    const bit = Math.floor(h6 / 2 ** 23);
    bits[bit >>> 3] = (bits[bit >>> 3] as number) | (1 << (bit & 7));
  }
  db.prepare('DELETE FROM tree_dedup_filter').run();
  const put = db.prepare('INSERT INTO tree_dedup_filter (id, bits) VALUES (?, ?)');
  const rowBytes = bits.length / 32;
  for (let id = 0; id < 32; id++) put.run(id, bits.subarray(id * rowBytes, (id + 1) * rowBytes));
  db.prepare("DELETE FROM tree_state WHERE name = 'dedup_filter_upto'").run();
}
