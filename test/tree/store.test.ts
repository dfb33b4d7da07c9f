import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { toHex } from '../../src/hex.js';
import { emptyRoot, leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import { consistencyProof, inclusionProof, rootHash } from '../../src/tree/proof.js';
import {
  TreeDivergenceError,
  TreeGapError,
  TreeIntegrityError,
  TreeStore,
  type TreeStoreOptions,
} from '../../src/tree/store.js';
import { NEW_FILE_LEAF_FORMAT } from '../../src/tree/leaf-tiles.js';
import { verifyConsistency, verifyInclusion } from '../../src/tree/verify.js';
import type { Hash } from '../../src/types.js';
import { leafOf, leavesOf, memoryReader, prefixRoots, storeFiles } from './helpers.js';

const hex = (hashes: readonly Uint8Array[]): string[] => hashes.map(toHex);

const files = storeFiles();

/** A store in a new file; closed in the suite's cleanup if the test does not. */
function fresh(options: TreeStoreOptions = {}): { store: TreeStore; path: string } {
  const path = files.newPath('t');
  return { store: files.open(path, options), path };
}

const reopen = files.open;

/** Appends leaves in batches of varying sizes (1, 2, 3, …). */
function appendInBatches(store: TreeStore, leaves: readonly Uint8Array[]): void {
  for (let i = 0, b = 1; i < leaves.length; i += b, b = (b % 13) + 1) {
    const batch = leaves.slice(i, i + b);
    assert.deepEqual(store.appendLeaves(batch), batch.map((_, k) => i + k));
  }
}

/** Recreates the trigger-based fault: the next write to `table` aborts its transaction. */
function failWritesTo(store: TreeStore, table: string): () => void {
  const name = `fail_${table}`;
  store.db.exec(`CREATE TEMP TRIGGER ${name}_i BEFORE INSERT ON main.${table} BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
  store.db.exec(`CREATE TEMP TRIGGER ${name}_u BEFORE UPDATE ON main.${table} BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
  return () => store.db.exec(`DROP TRIGGER temp.${name}_i; DROP TRIGGER temp.${name}_u`);
}

function assertSameTree(store: TreeStore, leaves: readonly Uint8Array[]): void {
  assert.equal(store.size(), leaves.length);
  assert.deepEqual(hex(store.leaves(0, leaves.length)), hex(leaves));
  assert.equal(toHex(store.rootAt(leaves.length)), toHex(rootFromLeafHashes(leaves.map(leafHash))));
}

describe('TreeStore proofs', () => {
  it('serves, for every size up to 100, roots and all proofs that verify against roots from scratch', () => {
    const leaves = leavesOf(0, 100);
    const roots = prefixRoots(leaves);
    const hashes = leaves.map(leafHash);
    const { store } = fresh({ dedupChunk: 16 });
    let size = 0;
    for (let b = 1; size < 100; b++) {
      const batch = leaves.slice(size, size + b);
      store.appendLeaves(batch);
      size += batch.length;
      assert.equal(toHex(store.rootAt(size)), toHex(roots[size] as Hash), `root after appending to ${size}`);
    }
    const reader = memoryReader(leaves);
    for (let n = 0; n <= 100; n++) {
      assert.equal(toHex(store.rootAt(n)), toHex(roots[n] as Hash), `rootAt(${n})`);
      for (let i = 0; i < n; i++) {
        const path = store.inclusionProof(i, n);
        assert.ok(verifyInclusion(hashes[i] as Hash, i, n, path, roots[n] as Hash), `inclusion ${i}/${n}`);
        assert.deepEqual(hex(path), hex(inclusionProof(reader, i, n)));
      }
      for (let m = 0; m <= n; m++) {
        const path = store.consistencyProof(m, n);
        assert.ok(verifyConsistency(m, n, roots[m] as Hash, roots[n] as Hash, path), `consistency ${m} → ${n}`);
        assert.deepEqual(hex(path), hex(consistencyProof(reader, m, n)));
      }
    }
    assert.equal(toHex(store.verifyIntegrity().root), toHex(roots[100] as Hash));
  });

  it('serves valid proofs at random sizes in a tree of a few thousand leaves', () => {
    const total = 3000;
    const leaves = leavesOf(0, total, 'random');
    const { store } = fresh({ dedupChunk: 500 });
    appendInBatches(store, leaves);
    const hashes = leaves.map(leafHash);
    const reader = memoryReader(leaves);
    let seed = 12345;
    const rand = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    // Roots from scratch for a sample of sizes, including tile boundaries.
    const sizes = [1, 255, 256, 257, 511, 512, 513, 2047, 2048, 2049, total];
    while (sizes.length < 40) sizes.push(1 + rand(total));
    const roots = new Map(sizes.map((n) => [n, rootFromLeafHashes(hashes.slice(0, n))]));
    for (const n of sizes) {
      const root = roots.get(n) as Hash;
      assert.equal(toHex(store.rootAt(n)), toHex(root));
      for (let k = 0; k < 10; k++) {
        const i = k === 0 ? n - 1 : rand(n);
        assert.ok(verifyInclusion(hashes[i] as Hash, i, n, store.inclusionProof(i, n), root), `inclusion ${i}/${n}`);
      }
      for (const m of sizes) {
        if (m > n) continue;
        const path = store.consistencyProof(m, n);
        assert.ok(verifyConsistency(m, n, roots.get(m) as Hash, root, path), `consistency ${m} → ${n}`);
      }
    }
    for (let k = 0; k < 300; k++) {
      const n = 1 + rand(total);
      const i = rand(n);
      const m = rand(n + 1);
      assert.deepEqual(hex(store.inclusionProof(i, n)), hex(inclusionProof(reader, i, n)));
      assert.deepEqual(hex(store.consistencyProof(m, n)), hex(consistencyProof(reader, m, n)));
    }
    store.verifyIntegrity();
  });

  it('spans three tile levels (more than 4,096 leaves) and tile boundaries correctly', () => {
    const total = 66_000;
    const leaves = leavesOf(0, total, 'big');
    const { store } = fresh({ dedupChunk: 4096 });
    for (let i = 0; i < total; i += 1000) store.appendLeaves(leaves.slice(i, i + 1000));
    const reader = memoryReader(leaves);
    for (const n of [4095, 4096, 4097, 65_535, 65_536, 65_537, total]) {
      assert.equal(toHex(store.rootAt(n)), toHex(rootHash(reader, n)));
    }
    assert.equal(toHex(store.rootAt(total)), toHex(rootFromLeafHashes(leaves.map(leafHash))));
    for (const [i, n] of [
      [4095, 4097],
      [0, total],
      [65_535, total],
      [65_536, total],
      [total - 1, total],
      [40_000, 65_537],
    ] as Array<[number, number]>) {
      assert.deepEqual(hex(store.inclusionProof(i, n)), hex(inclusionProof(reader, i, n)), `inclusion ${i}/${n}`);
    }
    for (const [m, n] of [
      [4095, 4097],
      [4096, total],
      [1, total],
      [65_535, 65_536],
      [65_536, total],
      [65_537, total],
      [300, 65_537],
    ] as Array<[number, number]>) {
      assert.deepEqual(hex(store.consistencyProof(m, n)), hex(consistencyProof(reader, m, n)), `consistency ${m} → ${n}`);
    }
    assert.equal(store.indexOfLeafHash(leafHash(leaves[65_000] as Uint8Array)), 65_000);
    store.truncate(65_536);
    assert.equal(toHex(store.rootAt(65_536)), toHex(rootHash(reader, 65_536)));
    store.truncate(65_535);
    assert.equal(toHex(store.verifyIntegrity().root), toHex(rootHash(reader, 65_535)));
    store.appendLeaves(leaves.slice(65_535));
    assert.equal(toHex(store.verifyIntegrity().root), toHex(rootHash(reader, total)));
  });

  it('rejects sizes and indices outside the stored tree', () => {
    const { store } = fresh();
    assert.equal(toHex(store.rootAt(0)), toHex(emptyRoot()));
    assert.throws(() => store.rootAt(1), RangeError);
    store.appendLeaves(leavesOf(0, 5));
    assert.throws(() => store.rootAt(6), RangeError);
    assert.throws(() => store.rootAt(-1), RangeError);
    assert.throws(() => store.inclusionProof(5, 5), RangeError);
    assert.throws(() => store.inclusionProof(0, 6), RangeError);
    assert.throws(() => store.consistencyProof(3, 2), RangeError);
    assert.throws(() => store.consistencyProof(3, 6), RangeError);
    assert.throws(() => store.leaves(2, 6), RangeError);
    assert.throws(() => store.leaves(3, 2), RangeError);
    assert.throws(() => store.leafAt(5), RangeError);
    assert.throws(() => store.leafHashAt(5), RangeError);
    assert.throws(() => store.leafAt(0.5), RangeError);
    assert.deepEqual(store.inclusionProof(0, 1), []);
    assert.deepEqual(store.consistencyProof(0, 5), []);
    assert.deepEqual(store.consistencyProof(5, 5), []);
  });
});

describe('TreeStore appends', () => {
  it('reads back leaves, ranges across tiles and leaf hashes', () => {
    const leaves = [...leavesOf(0, 600), new Uint8Array(0), new Uint8Array(5000).fill(9)];
    const { store } = fresh();
    appendInBatches(store, leaves);
    assertSameTree(store, leaves);
    assert.deepEqual(hex(store.leaves(250, 520)), hex(leaves.slice(250, 520)));
    assert.deepEqual(store.leaves(7, 7), []);
    assert.deepEqual(store.leaves(602, 602), []);
    assert.equal(toHex(store.leafAt(600)), '');
    assert.equal(store.leafAt(601).length, 5000);
    for (const i of [0, 255, 256, 599, 601]) {
      assert.equal(toHex(store.leafHashAt(i)), toHex(leafHash(leaves[i] as Uint8Array)));
    }
  });

  it('skips duplicates within a batch, across batches, across dedup flushes and after reopening', () => {
    const { store, path } = fresh({ dedupChunk: 4 });
    assert.deepEqual(store.appendLeaves([leafOf(0), leafOf(1), leafOf(0), leafOf(2), leafOf(1)]), [0, 1, 0, 2, 1]);
    assert.deepEqual(store.appendLeaves(leavesOf(0, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(store.size(), 10);
    assert.deepEqual(store.appendLeaves([leafOf(9), leafOf(10), leafOf(3), leafOf(10)]), [9, 10, 3, 10]);
    assert.deepEqual(store.appendLeaves([]), []);
    assertSameTree(store, leavesOf(0, 11));
    for (let i = 0; i < 11; i++) assert.equal(store.indexOfLeafHash(leafHash(leafOf(i))), i);
    assert.equal(store.indexOfLeafHash(leafHash(leafOf(11))), undefined);
    assert.equal(store.indexOfLeafHash(new Uint8Array(31) as Hash), undefined);
    store.close();

    const again = reopen(path, { dedupChunk: 4 });
    for (let i = 0; i < 11; i++) assert.equal(again.indexOfLeafHash(leafHash(leafOf(i))), i, `after reopen ${i}`);
    assert.deepEqual(again.appendLeaves([leafOf(11), leafOf(2), leafOf(10)]), [11, 2, 10]);
    assert.equal(again.size(), 12);
    again.verifyIntegrity();
  });

  it('keeps every leaf findable while chunks move to disk slice by slice, across reopen and truncate', () => {
    const { store, path } = fresh({ dedupChunk: 64 });
    let current = store;
    for (let n = 0; n < 400; n++) {
      assert.deepEqual(current.appendLeaves([leafOf(n)]), [n]);
      for (const i of [0, n >> 1, n - 1, n]) {
        if (i >= 0) assert.equal(current.indexOfLeafHash(leafHash(leafOf(i))), i, `leaf ${i} at size ${n + 1}`);
      }
      assert.deepEqual(current.appendLeaves([leafOf(n >> 2)]), [n >> 2], `duplicate at size ${n + 1}`);
      if (n % 97 === 0) {
        current.verifyIntegrity();
        current.close();
        current = reopen(path);
      }
    }
    for (const n of [300, 270, 129, 100]) {
      current.truncate(n);
      current.verifyIntegrity();
      for (let i = 0; i < 400; i += 7) {
        assert.equal(current.indexOfLeafHash(leafHash(leafOf(i))), i < n ? i : undefined, `leaf ${i} after truncating to ${n}`);
      }
    }
    current.appendLeaves(leavesOf(100, 400));
    current.verifyIntegrity();
    for (let i = 0; i < 400; i++) assert.equal(current.indexOfLeafHash(leafHash(leafOf(i))), i);
  });

  it('rebuilds a missing leaf-hash filter from the disk level', () => {
    const { store, path } = fresh({ dedupChunk: 8 });
    store.appendLeaves(leavesOf(0, 100));
    store.close();
    const other = new Database(path);
    other.exec('DELETE FROM tree_dedup_filter WHERE id % 2 = 0');
    other.close();
    const again = reopen(path);
    for (let i = 0; i < 100; i++) assert.equal(again.indexOfLeafHash(leafHash(leafOf(i))), i);
    assert.deepEqual(again.appendLeaves([leafOf(3), leafOf(100)]), [3, 100]);
    again.verifyIntegrity();
  });

  it('finds a leaf whose hash shares its 6-byte prefix with another only by its full hash', () => {
    // The disk level is keyed by a hash prefix; collisions must not merge leaves.
    const { store } = fresh({ dedupChunk: 2 });
    store.appendLeaves(leavesOf(0, 8));
    const probe = new Uint8Array(leafHash(leafOf(3))) as Hash;
    probe[31] = (probe[31] as number) ^ 0xff; // same prefix, different hash
    assert.equal(store.indexOfLeafHash(probe), undefined);
    assert.equal(store.indexOfLeafHash(leafHash(leafOf(3))), 3);
  });

  it('is all or nothing: a batch that fails part-way leaves no trace', () => {
    for (const table of ['tree_leaf_tiles', 'tree_hash_tiles', 'tree_state', 'tree_dedup']) {
      const { store } = fresh({ dedupChunk: 8 });
      store.appendLeaves(leavesOf(0, 13));
      const before = toHex(store.rootAt(13));
      const restore = failWritesTo(store, table);
      // 13 + 7 new leaves crosses a dedup flush at 16; duplicates of stored leaves too.
      const batch = [...leavesOf(13, 20), leafOf(2), leafOf(14)];
      assert.throws(() => store.appendLeaves(batch), /injected fault/, table);
      assert.equal(store.size(), 13, table);
      assert.equal(toHex(store.rootAt(13)), before, table);
      assert.equal(store.indexOfLeafHash(leafHash(leafOf(15))), undefined, table);
      restore();
      assert.deepEqual(store.appendLeaves(batch), [13, 14, 15, 16, 17, 18, 19, 2, 14], table);
      assertSameTree(store, leavesOf(0, 20));
      store.verifyIntegrity();
    }
  });

  it('refuses to write inside a transaction the caller opened', () => {
    const { store } = fresh();
    store.db.exec('CREATE TABLE IF NOT EXISTS other (x)');
    assert.throws(() => store.db.transaction(() => store.appendLeaves([leafOf(1)]))(), /inside another transaction/);
    assert.equal(store.size(), 0);
    // Reads inside a caller's transaction are fine.
    store.appendLeaves([leafOf(1)]);
    assert.equal(store.db.transaction(() => store.size())(), 1);
    assert.equal(toHex(store.db.transaction(() => store.rootAt(1))()), toHex(leafHash(leafOf(1))));
  });
});

describe('TreeStore replica appends', () => {
  it('appends at the end, skips identical overlap, and refuses gaps', () => {
    const leaves = leavesOf(0, 40);
    const { store } = fresh({ dedupChunk: 8 });
    store.appendPreordered(0, leaves.slice(0, 10));
    store.appendPreordered(5, leaves.slice(5, 25)); // overlap 5..9
    store.appendPreordered(25, []);
    store.appendPreordered(20, leaves.slice(20, 25)); // pure overlap
    assertSameTree(store, leaves.slice(0, 25));
    assert.throws(() => store.appendPreordered(26, leaves.slice(26, 30)), (e: unknown) => {
      assert.ok(e instanceof TreeGapError);
      assert.equal(e.size, 25);
      assert.equal(e.startIndex, 26);
      return true;
    });
    assert.throws(() => store.appendPreordered(26, []), TreeGapError);
    assertSameTree(store, leaves.slice(0, 25));
    store.appendPreordered(25, leaves.slice(25));
    assertSameTree(store, leaves);
    store.verifyIntegrity();
  });

  it('throws TreeDivergenceError naming the first differing index, writing nothing', () => {
    const leaves = leavesOf(0, 30);
    const { store } = fresh();
    store.appendPreordered(0, leaves.slice(0, 20));
    const forged = [...leaves.slice(12, 30)];
    forged[5] = leafOf(17, 'forged'); // index 17
    forged[6] = leafOf(18, 'forged');
    assert.throws(() => store.appendPreordered(12, forged), (e: unknown) => {
      assert.ok(e instanceof TreeDivergenceError);
      assert.equal(e.index, 17);
      assert.match(e.message, /17/);
      return true;
    });
    assertSameTree(store, leaves.slice(0, 20));
  });

  it('mirrors duplicates instead of skipping them; lookups give the first index', () => {
    const { store } = fresh({ dedupChunk: 2 });
    const leaves = [leafOf(0), leafOf(1), leafOf(0), leafOf(2), leafOf(1)];
    store.appendPreordered(0, leaves);
    assertSameTree(store, leaves);
    assert.equal(store.indexOfLeafHash(leafHash(leafOf(0))), 0);
    assert.equal(store.indexOfLeafHash(leafHash(leafOf(1))), 1);
    store.verifyIntegrity();
  });
});

describe('TreeStore truncate', () => {
  it('gives the same tree as a fresh one, at tile and dedup boundaries, and re-appends identically', () => {
    const leaves = leavesOf(0, 600);
    const { store } = fresh({ dedupChunk: 64 });
    appendInBatches(store, leaves);
    // Tile boundaries (hash tiles: 64, 4096; leaf tiles: 30) and dedup chunk/slice states.
    for (const n of [599, 520, 512, 511, 257, 256, 255, 130, 128, 127, 91, 90, 89, 64, 63, 61, 60, 59, 30, 29, 1, 0]) {
      store.truncate(n);
      assertSameTree(store, leaves.slice(0, n));
      assert.equal(store.indexOfLeafHash(leafHash(leaves[n] as Uint8Array)), undefined, `leaf ${n} gone`);
      if (n > 0) assert.equal(store.indexOfLeafHash(leafHash(leaves[n - 1] as Uint8Array)), n - 1);
      assert.equal(toHex(store.verifyIntegrity().root), toHex(rootFromLeafHashes(leaves.slice(0, n).map(leafHash))));
    }
    appendInBatches(store, leaves);
    const { store: reference } = fresh({ dedupChunk: 64 });
    reference.appendLeaves(leaves);
    for (const n of [1, 63, 64, 300, 600]) assert.equal(toHex(store.rootAt(n)), toHex(reference.rootAt(n)));
    assert.deepEqual(hex(store.consistencyProof(100, 600)), hex(reference.consistencyProof(100, 600)));
    store.verifyIntegrity();
  });

  it('refuses to grow and treats the current size as a no-op', () => {
    const { store } = fresh();
    store.appendLeaves(leavesOf(0, 10));
    assert.throws(() => store.truncate(11), RangeError);
    store.truncate(10);
    assertSameTree(store, leavesOf(0, 10));
  });

  it('lets a leaf removed by truncation be appended again at its new index', () => {
    const { store } = fresh({ dedupChunk: 4 });
    store.appendLeaves(leavesOf(0, 10));
    store.truncate(5);
    assert.deepEqual(store.appendLeaves([leafOf(9), leafOf(2)]), [5, 2]);
    assert.equal(store.indexOfLeafHash(leafHash(leafOf(9))), 5);
  });
});

describe('TreeStore persistence and sharing', () => {
  it('reopens a closed file with the same leaves, roots, proofs and metadata', () => {
    const leaves = leavesOf(0, 300);
    const { store, path } = fresh({ dedupChunk: 32 });
    appendInBatches(store, leaves);
    store.setMeta('tree-mode', 'sequencing');
    store.setMeta('tree-mode', 'replica');
    const roots = [0, 1, 100, 256, 300].map((n) => toHex(store.rootAt(n)));
    const proof = hex(store.consistencyProof(7, 300));
    store.close();

    const again = reopen(path, { dedupChunk: 32 });
    assertSameTree(again, leaves);
    assert.deepEqual([0, 1, 100, 256, 300].map((n) => toHex(again.rootAt(n))), roots);
    assert.deepEqual(hex(again.consistencyProof(7, 300)), proof);
    assert.equal(again.getMeta('tree-mode'), 'replica');
    assert.equal(again.getMeta('missing'), undefined);
    assert.equal(again.indexOfLeafHash(leafHash(leafOf(299))), 299);
    again.close();

    // The dedup chunk size belongs to the file: another one on reopen is ignored.
    const third = reopen(path, { dedupChunk: 7 });
    assert.equal(third.indexOfLeafHash(leafHash(leafOf(17))), 17);
    assert.deepEqual(third.appendLeaves([leafOf(5), leafOf(300)]), [5, 300]);
    third.verifyIntegrity();
  });

  it('lets another connection read, and notices its appends and truncations', () => {
    const leaves = leavesOf(0, 400);
    const { store: writer, path } = fresh({ dedupChunk: 16 });
    writer.appendLeaves(leaves.slice(0, 100));
    const reader = reopen(path, { dedupChunk: 16 });
    assert.equal(reader.size(), 100);
    writer.appendLeaves(leaves.slice(100, 300));
    assert.equal(reader.size(), 300);
    assert.equal(toHex(reader.rootAt(300)), toHex(writer.rootAt(300)));
    assert.equal(reader.indexOfLeafHash(leafHash(leafOf(250))), 250);
    writer.truncate(120);
    writer.appendLeaves(leavesOf(120, 200, 'other'));
    assert.equal(reader.size(), 200);
    const want = [...leaves.slice(0, 120), ...leavesOf(120, 200, 'other')];
    assert.equal(toHex(reader.rootAt(200)), toHex(rootFromLeafHashes(want.map(leafHash))));
    assert.equal(reader.indexOfLeafHash(leafHash(leafOf(250))), undefined);
    assert.equal(reader.indexOfLeafHash(leafHash(leafOf(150, 'other'))), 150);
  });

  it('as sole writer, reads trust the cache; another writer is refused once, loudly; own writes and truncations are exact', () => {
    const leaves = leavesOf(0, 300);
    const { path } = fresh({ dedupChunk: 16 });
    const sole = reopen(path, { dedupChunk: 16, soleWriter: true });
    sole.appendLeaves(leaves.slice(0, 100));
    assert.equal(sole.size(), 100);
    assert.equal(sole.indexOfLeafHash(leafHash(leafOf(50))), 50);
    // A write by another connection breaks the promise: reads do not see it,
    // and the next write refuses, loudly, once...
    const other = reopen(path, { dedupChunk: 16 });
    other.appendLeaves(leaves.slice(100, 150));
    assert.equal(sole.size(), 100);
    assert.equal(sole.indexOfLeafHash(leafHash(leafOf(120))), undefined);
    assert.throws(() => sole.appendLeaves([leafOf(150)]), /written by another connection.*sole writer/);
    // ...after which the store has reloaded: it dedups against those leaves and continues after them.
    assert.equal(sole.size(), 150);
    assert.deepEqual(sole.appendLeaves([leafOf(120), leafOf(150)]), [120, 150]);
    assert.equal(sole.size(), 151);
    assert.equal(toHex(sole.rootAt(151)), toHex(rootFromLeafHashes(leaves.slice(0, 151).map(leafHash))));
    sole.truncate(90);
    assert.equal(sole.size(), 90);
    assert.equal(sole.indexOfLeafHash(leafHash(leafOf(95))), undefined);
    assert.deepEqual(sole.appendLeaves(leavesOf(90, 95, 'other')), [90, 91, 92, 93, 94]);
    assert.equal(sole.indexOfLeafHash(leafHash(leafOf(92, 'other'))), 92);
    sole.verifyIntegrity();
  });

  it('shares the connection with other tables without affecting the tree', () => {
    const { store } = fresh();
    store.db.exec('CREATE TABLE IF NOT EXISTS witness_state (k TEXT PRIMARY KEY, v TEXT)');
    store.db.prepare("INSERT INTO witness_state VALUES ('a', 'b')").run();
    store.appendLeaves(leavesOf(0, 3));
    assert.equal(store.db.prepare('SELECT v FROM witness_state').pluck().get(), 'b');
    assert.equal(store.size(), 3);
  });

  it('refuses a file with another schema version', () => {
    const { store, path } = fresh();
    store.db.prepare("UPDATE tree_state SET value = 99 WHERE name = 'schema_version'").run();
    store.close();
    assert.throws(() => TreeStore.open(path), /schema version 99/);
  });
});

describe('TreeStore verifyIntegrity', () => {
  /** Builds a store, damages its file through a separate connection, and expects verification to fail. */
  function damaged(sql: string): void {
    const { store, path } = fresh({ dedupChunk: 16 });
    store.appendLeaves(leavesOf(0, 600));
    assert.equal(store.verifyIntegrity().size, 600);
    const other = new Database(path);
    try {
      other.exec(sql);
    } finally {
      other.close();
    }
    assert.throws(() => store.verifyIntegrity(), TreeIntegrityError, sql);
  }

  it('detects a changed leaf', () => {
    const k = Math.floor(300 / NEW_FILE_LEAF_FORMAT.width);
    damaged(`UPDATE tree_leaf_tiles SET leaves = CAST(replace(CAST(leaves AS TEXT), 'leaf-300-', 'leaf-301-') AS BLOB) WHERE k = ${k}`);
  });
  it('detects a missing leaf tile', () => damaged('DELETE FROM tree_leaf_tiles WHERE k = 1'));
  it('detects an extra leaf', () => damaged("UPDATE tree_leaf_tiles SET leaves = CAST(leaves || x'0161' AS BLOB) WHERE k = 2"));
  it('detects a changed stored hash', () => {
    damaged('UPDATE tree_hash_tiles SET hashes = CAST(zeroblob(32) || substr(hashes, 33) AS BLOB) WHERE id = 1');
  });
  it('detects a stored value that is not a blob', () => damaged("UPDATE tree_hash_tiles SET hashes = 'text' WHERE id = 1"));
  it('detects a missing hash tile', () => damaged('DELETE FROM tree_hash_tiles WHERE id = 0'));
  it('detects a wrong leaf-hash index entry', () => damaged('UPDATE tree_dedup SET idx = idx + 1 WHERE idx = 40'));
  it('detects a missing leaf-hash index entry', () => damaged('DELETE FROM tree_dedup WHERE idx = 41'));
  it('detects a leaf-hash filter that misses an entry', () => {
    damaged('UPDATE tree_dedup_filter SET bits = zeroblob(length(bits))');
  });
});
