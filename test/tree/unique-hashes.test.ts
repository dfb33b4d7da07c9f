// State "leaf_hashes_unique" (tree schema 5, src/tree/dedup.ts): set on a new
// file, kept by sequencing appends, cleared by the first repeated leaf hash a
// replica appends, counted by the migration from schema 4 and by
// rebuildDerived, and checked by checkTree. Lookups rely on it to stop at the
// first confirmed entry, so every test also asks for the lowest index.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { leafHash } from '../../src/tree/hash.js';
import { SCHEMA_VERSION, TreeStore } from '../../src/tree/store.js';
import { leafOf, leavesOf, storeFiles, withDb } from './helpers.js';

const files = storeFiles();
const openStore = files.open;

function uniqueState(db: Database.Database): number | undefined {
  return db.prepare("SELECT value FROM tree_state WHERE name = 'leaf_hashes_unique'").pluck().get() as number | undefined;
}

/** Appends leaves as a replica does, in batches of 1..13. */
function appendPreorderedInBatches(store: TreeStore, leaves: readonly Uint8Array[], from = 0): void {
  for (let n = from; n < leaves.length; ) {
    const size = 1 + ((n * 7) % 13);
    store.appendPreordered(n, leaves.slice(n, n + size));
    n = Math.min(leaves.length, n + size);
  }
}

/** 300 distinct leaves, except that `again` repeats leaf `first`. */
function withRepeat(first: number, again: number, count = 300): Uint8Array[] {
  return leavesOf(0, count).map((leaf, i) => (i === again ? leafOf(first) : leaf));
}

/** A schema-4 file: what version 4 wrote is this minus the state row. */
function downgradeToSchema4(path: string): void {
  withDb(path, (db) => db.exec("DELETE FROM tree_state WHERE name = 'leaf_hashes_unique'; UPDATE tree_state SET value = 4 WHERE name = 'schema_version'"));
}

// Pairs (first, again) placed, with chunk 2 (level 1 holds 16 entries, level 2
// 128, level 3 1,024), in the memory level, in one disk level, and in
// different disk levels, after 300 leaves.
const PAIRS: Array<[number, number]> = [
  [0, 1],
  [0, 299],
  [3, 150],
  [17, 18],
  [100, 101],
  [250, 298],
  [298, 299],
  [140, 141],
];

describe('leaf_hashes_unique', () => {
  it('is set on a new file and kept by sequencing appends, which dedup', () => {
    const store = openStore(files.newPath('u'), { dedupChunk: 2 });
    assert.equal(uniqueState(store.db), 1);
    for (let n = 0; n < 600; n += 50) {
      const got = store.appendLeaves([...leavesOf(n, n + 50), leafOf(n >> 1), leafOf(n)]);
      assert.deepEqual(got.slice(-2), [n >> 1, n]);
    }
    assert.equal(uniqueState(store.db), 1);
    for (let i = 0; i < 600; i++) assert.equal(store.indexOfLeafHash(leafHash(leafOf(i))), i);
    assert.equal(store.checkTree().problems.length, 0);
  });

  it('stays set while a replica appends distinct leaves, also across overlapping ranges', () => {
    const store = openStore(files.newPath('u'), { dedupChunk: 2 });
    const leaves = leavesOf(0, 300);
    appendPreorderedInBatches(store, leaves);
    store.appendPreordered(250, leaves.slice(250)); // an overlap is skipped, not a repeat
    assert.equal(uniqueState(store.db), 1);
    for (let i = 0; i < 300; i++) assert.equal(store.indexOfLeafHash(leafHash(leafOf(i))), i);
  });

  for (const [first, again] of PAIRS) {
    it(`is cleared by the batch that appends leaf ${again} repeating leaf ${first}, and lookups give ${first}`, () => {
      const store = openStore(files.newPath('u'), { dedupChunk: 2 });
      const leaves = withRepeat(first, again);
      appendPreorderedInBatches(store, leaves.slice(0, again));
      assert.equal(uniqueState(store.db), 1, 'before the repeat');
      store.appendPreordered(again, leaves.slice(again, again + 1));
      assert.equal(uniqueState(store.db), 0, 'after the repeat');
      appendPreorderedInBatches(store, leaves, again + 1);
      assert.equal(store.indexOfLeafHash(leafHash(leafOf(first))), first);
      assert.equal(store.checkTree().problems.length, 0);
      // Truncating the repeat away keeps the state: only a recount sets it.
      store.truncate(again);
      assert.equal(uniqueState(store.db), 0);
      assert.equal(store.indexOfLeafHash(leafHash(leafOf(first))), first);
    });
  }

  it('is cleared by a repeat within one batch', () => {
    const store = openStore(files.newPath('u'), { dedupChunk: 2 });
    store.appendPreordered(0, leavesOf(0, 40));
    store.appendPreordered(40, [leafOf(40), leafOf(41), leafOf(40)]);
    assert.equal(uniqueState(store.db), 0);
    assert.equal(store.indexOfLeafHash(leafHash(leafOf(40))), 40);
  });

  it('is left alone by a replica batch that fails', () => {
    const store = openStore(files.newPath('u'), { dedupChunk: 2 });
    store.appendPreordered(0, leavesOf(0, 40));
    assert.throws(() => store.appendPreordered(41, [leafOf(3)]), /gap|beyond|41/);
    assert.equal(uniqueState(store.db), 1);
  });
});

describe('schema 4 → 5 migration', () => {
  for (const count of [0, 1, 2, 17, 300]) {
    it(`counts a schema-4 file of ${count} distinct leaves as unique`, () => {
      const path = files.newPath('m');
      const store = openStore(path, { dedupChunk: 2 });
      appendPreorderedInBatches(store, leavesOf(0, count));
      store.close();
      downgradeToSchema4(path);
      assert.throws(() => TreeStore.open(path, { readOnly: true }), new RegExp(`tree schema version 4; it is migrated to ${SCHEMA_VERSION}`));
      const migrated = openStore(path);
      assert.equal(uniqueState(migrated.db), 1);
      assert.equal(migrated.db.prepare("SELECT value FROM tree_state WHERE name = 'schema_version'").pluck().get(), SCHEMA_VERSION);
      for (let i = 0; i < count; i++) assert.equal(migrated.indexOfLeafHash(leafHash(leafOf(i))), i);
      assert.equal(migrated.checkTree().problems.length, 0);
    });
  }

  for (const [first, again] of PAIRS) {
    it(`counts a schema-4 file where leaf ${again} repeats leaf ${first} as not unique`, () => {
      const path = files.newPath('m');
      const store = openStore(path, { dedupChunk: 2 });
      appendPreorderedInBatches(store, withRepeat(first, again));
      store.close();
      downgradeToSchema4(path);
      const migrated = openStore(path);
      assert.equal(uniqueState(migrated.db), 0);
      assert.equal(migrated.indexOfLeafHash(leafHash(leafOf(first))), first);
    });
  }

  for (const [first, again] of [[-1, -1], [2, 70], [66, 71]] as const) {
    it(`counts each leaf once while a chunk is half moved to disk (${first < 0 ? 'no repeat' : `leaf ${again} repeats leaf ${first}`})`, () => {
      const path = files.newPath('m');
      const store = openStore(path, { dedupChunk: 64 });
      const leaves = first < 0 ? leavesOf(0, 75) : withRepeat(first, again, 75);
      for (let n = 0; n < leaves.length; n++) store.appendPreordered(n, leaves.slice(n, n + 1)); // one slice moves per batch
      const slices = store.db.prepare("SELECT value FROM tree_state WHERE name = 'dedup_slices'").pluck().get() as number;
      assert.ok(slices > 0 && slices < 32, `dedup_slices ${slices}: no chunk in flight`);
      store.close();
      downgradeToSchema4(path);
      assert.equal(uniqueState(openStore(path).db), first < 0 ? 1 : 0);
    });
  }

  it('opens a schema-4 file whose index cannot load, for the check to report and rebuildDerived to repair', () => {
    const path = files.newPath('m');
    const store = openStore(path, { dedupChunk: 2 });
    appendPreorderedInBatches(store, leavesOf(0, 100));
    store.close();
    downgradeToSchema4(path);
    // Damage the migration's filter rebuild (schema 6) does not mend: a disk level that ends inside a chunk.
    withDb(path, (db) => db.exec("UPDATE tree_state SET value = 3 WHERE name = 'dedup_upto'"));
    const damaged = openStore(path);
    assert.equal(uniqueState(damaged.db), undefined, 'not counted');
    assert.match(damaged.checkTree().problems[0]?.message ?? '', /leaf-hash index cannot be loaded: dedup state \(chunk 2, upto 3/);
    damaged.rebuildDerived();
    assert.equal(uniqueState(damaged.db), 1);
    assert.deepEqual(damaged.checkTree().problems, []);
  });

  it('counts again when the count never committed (the row is still missing)', () => {
    const path = files.newPath('m');
    const store = openStore(path, { dedupChunk: 2 });
    appendPreorderedInBatches(store, leavesOf(0, 100));
    store.close();
    withDb(path, (db) => db.exec("DELETE FROM tree_state WHERE name = 'leaf_hashes_unique'")); // version 5 committed, the count not
    assert.equal(uniqueState(openStore(path).db), 1);
  });
});

describe('leaf_hashes_unique: check and rebuild', () => {
  for (const [first, again] of PAIRS) {
    it(`checkTree reports a state that claims uniqueness while leaf ${again} repeats leaf ${first}; rebuildDerived clears it`, () => {
      const path = files.newPath('c');
      const store = openStore(path, { dedupChunk: 2 });
      appendPreorderedInBatches(store, withRepeat(first, again));
      store.close();
      withDb(path, (db) => db.exec("UPDATE tree_state SET value = 1 WHERE name = 'leaf_hashes_unique'"));
      const damaged = openStore(path);
      const messages = damaged.checkTree().problems.map((p) => `${p.kind}: ${p.message}`);
      assert.deepEqual(messages, [`index: leaf-hash index: its state says every leaf hash is unique, but leaf ${again} repeats leaf ${first}`]);
      damaged.rebuildDerived();
      assert.equal(uniqueState(damaged.db), 0);
      assert.deepEqual(damaged.checkTree().problems, []);
      assert.equal(damaged.indexOfLeafHash(leafHash(leafOf(first))), first);
    });
  }

  it('lists every repeat, whichever levels the copies are in, the memory level included', () => {
    const path = files.newPath('c');
    const store = openStore(path, { dedupChunk: 2 });
    const copies = [5, 40, 41, 150, 290, 297, 298, 299];
    const leaves = leavesOf(0, 300).map((leaf, i) => (copies.includes(i) ? leafOf(0, 'repeated') : leaf));
    appendPreorderedInBatches(store, leaves);
    const where = store.db.prepare(`SELECT DISTINCT level FROM tree_dedup WHERE idx IN (${copies.join(', ')})`).pluck().all();
    assert.ok(where.length >= 2, `copies in levels ${where.join(', ')}`);
    assert.ok(copies.some((i) => i >= 298), 'a copy in the memory level');
    const check = store.checkTree();
    assert.deepEqual(check.problems, []);
    assert.deepEqual(check.duplicates, { count: copies.length - 1, listed: copies.slice(1).map((again) => [5, again]) });
  });

  it('accepts a cleared state on unique leaves (it only costs lookups), and rebuildDerived sets it again', () => {
    const path = files.newPath('c');
    const store = openStore(path, { dedupChunk: 2 });
    store.appendLeaves(leavesOf(0, 300));
    store.db.exec("UPDATE tree_state SET value = 0 WHERE name = 'leaf_hashes_unique'");
    store.close();
    const reopened = openStore(path);
    assert.deepEqual(reopened.checkTree().problems, []);
    for (let i = 0; i < 300; i += 7) assert.equal(reopened.indexOfLeafHash(leafHash(leafOf(i))), i);
    reopened.rebuildDerived();
    assert.equal(uniqueState(reopened.db), 1);
    for (let i = 0; i < 300; i += 7) assert.equal(reopened.indexOfLeafHash(leafHash(leafOf(i))), i);
  });
});
