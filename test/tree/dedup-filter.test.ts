// The leaf-hash index's prefix filter (schema 4): 27 bits, saved once per few
// chunks with dedup_filter_upto saying what the stored rows cover, the rest
// added from stored leaf hashes at open; and the migration of a schema-3 file,
// whose 25-bit filter is widened in place. Real files throughout; small dedup
// chunks so that saves happen within a few hundred leaves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { leafHash } from '../../src/tree/hash.js';
import { SCHEMA_VERSION, TreeStore } from '../../src/tree/store.js';
import { leafOf, leavesOf, rewriteFilterAsSchema3, storeFiles, withDb } from './helpers.js';

const files = storeFiles();
const openStore = files.open;

function state(db: Database.Database, name: string): unknown {
  return db.prepare('SELECT value FROM tree_state WHERE name = ?').pluck().get(name);
}

/** Whether the stored filter rows alone (not what an open adds) admit prefix h6 of a filter of `bitsLog2` bits. */
function storedFilterHas(db: Database.Database, h6: number, bitsLog2: number): boolean {
  const rowBits = 2 ** bitsLog2 / 32;
  const bit = Math.floor(h6 / 2 ** (48 - bitsLog2));
  const row = db.prepare('SELECT bits FROM tree_dedup_filter WHERE id = ?').pluck().get(Math.floor(bit / rowBits)) as Buffer | undefined;
  if (row === undefined) return false;
  const inRow = bit % rowBits;
  return ((row[inRow >>> 3] as number) & (1 << (inRow & 7))) !== 0;
}

function diskEntries(db: Database.Database): Array<[number, number]> {
  return db.prepare('SELECT h6, idx FROM tree_dedup').raw().all() as Array<[number, number]>;
}

function expectEveryLeafFound(store: TreeStore, count: number): void {
  for (let i = 0; i < count; i++) assert.equal(store.indexOfLeafHash(leafHash(leafOf(i))), i, `leaf ${i}`);
}

describe('leaf-hash filter', () => {
  it('saves its rows once per 4 chunks, and the stored rows cover every disk entry below dedup_filter_upto', () => {
    const path = files.newPath('save');
    const chunk = 8;
    const store = openStore(path, { dedupChunk: chunk });
    const uptoSeen = new Set<number>();
    for (let n = 0; n < 1200; n += 13) {
      store.appendLeaves(leavesOf(n, n + 13));
      uptoSeen.add(withDb(path, (db) => state(db, 'dedup_filter_upto') as number));
    }
    // Saves end with chunks 0, 4, 8, …: the recorded coverage is (c + 1) · chunk with c % 4 = 0.
    const values = [...uptoSeen].filter((v) => v > 0);
    assert.ok(values.length > 10, `several saves, got ${values.join(', ')}`);
    for (const v of values) assert.equal((v / chunk) % 4, 1, `dedup_filter_upto ${v}`);
    withDb(path, (db) => {
      const upto = state(db, 'dedup_filter_upto') as number;
      assert.ok(upto <= (state(db, 'dedup_upto') as number));
      const rows = db.prepare('SELECT id, length(bits) FROM tree_dedup_filter ORDER BY id').raw().all();
      assert.deepEqual(rows, Array.from({ length: 32 }, (_v, id) => [id, 2 ** 24 / 32]));
      let below = 0;
      for (const [h6, idx] of diskEntries(db)) {
        if (idx >= upto) continue;
        below++;
        assert.ok(storedFilterHas(db, h6, 27), `stored filter misses the entry of leaf ${idx}`);
      }
      assert.ok(below > 1000, `${below} entries checked`);
    });
    store.verifyIntegrity();
  });

  it('adds the leaves the stored rows do not cover from their stored hashes at open', () => {
    const path = files.newPath('catch-up');
    const store = openStore(path, { dedupChunk: 8 });
    store.appendLeaves(leavesOf(0, 700));
    store.close();
    // Nothing stored covers anything: every bit must come from the leaf hashes.
    withDb(path, (db) => {
      db.exec("UPDATE tree_dedup_filter SET bits = zeroblob(length(bits)); UPDATE tree_state SET value = 0 WHERE name = 'dedup_filter_upto'");
    });
    const again = openStore(path);
    again.verifyIntegrity();
    expectEveryLeafFound(again, 700);
    assert.deepEqual(again.appendLeaves([leafOf(5), leafOf(700)]), [5, 700]);
  });

  it('finds leaves appended again after a truncation below dedup_filter_upto, after reopening', () => {
    const path = files.newPath('truncate');
    const store = openStore(path, { dedupChunk: 8 });
    store.appendLeaves(leavesOf(0, 900));
    const before = withDb(path, (db) => state(db, 'dedup_filter_upto') as number);
    assert.ok(before > 300, `dedup_filter_upto ${before}`);
    store.truncate(100);
    // Other leaves take the truncated indices; the stored rows never saw them.
    const others = leavesOf(100, 400, 'other');
    assert.deepEqual(store.appendLeaves(others), others.map((_l, i) => 100 + i));
    store.close();
    const again = openStore(path);
    again.verifyIntegrity();
    for (let i = 100; i < 400; i++) assert.equal(again.indexOfLeafHash(leafHash(leafOf(i, 'other'))), i, `other leaf ${i}`);
    for (let i = 100; i < 900; i += 37) assert.equal(again.indexOfLeafHash(leafHash(leafOf(i))), undefined, `truncated leaf ${i}`);
    expectEveryLeafFound(again, 100);
  });

  it('rejects a dedup_filter_upto beyond the disk level', () => {
    const path = files.newPath('bad-upto');
    const store = openStore(path, { dedupChunk: 8 });
    store.appendLeaves(leavesOf(0, 100));
    store.close();
    withDb(path, (db) => db.exec("UPDATE tree_state SET value = 1000000 WHERE name = 'dedup_filter_upto'"));
    const again = openStore(path);
    assert.throws(() => again.indexOfLeafHash(leafHash(leafOf(3))), /dedup filter state \(upto 1000000\) does not fit the disk level/);
  });

  describe('migration from schema 3', () => {
    /** A schema-3 file as the previous version wrote it: the same tree, its 25-bit filter. */
    function writeVersion3(path: string, count: number, chunk: number): void {
      const store = TreeStore.open(path, { dedupChunk: chunk });
      for (let i = 0; i < count; i += 11) store.appendLeaves(leavesOf(i, Math.min(count, i + 11)));
      store.close();
      withDb(path, (db) =>
        db.transaction(() => {
          rewriteFilterAsSchema3(db);
          db.prepare("UPDATE tree_state SET value = 3 WHERE name = 'schema_version'").run();
        })(),
      );
    }

    for (const [count, chunk] of [
      [0, 8],
      [5, 8], // nothing on disk
      [300, 8],
      [2000, 4],
      [300, 512], // one chunk in memory, none on disk
    ] as const) {
      it(`rebuilds the filter of a ${count}-leaf file (chunk ${chunk}) at 27 bits; every leaf is still found`, () => {
        const path = files.newPath('v3');
        writeVersion3(path, count, chunk);
        const store = openStore(path);
        assert.equal(state(store.db, 'schema_version'), SCHEMA_VERSION);
        assert.equal(state(store.db, 'dedup_filter_upto'), state(store.db, 'dedup_upto'));
        const rows = store.db.prepare('SELECT id, bits FROM tree_dedup_filter ORDER BY id').raw().all() as Array<[number, Buffer]>;
        assert.deepEqual(rows.map(([id, bits]) => [id, bits.length]), Array.from({ length: 32 }, (_v, id) => [id, 2 ** 24 / 32]));
        // Exactly the entries' bits: rebuilt, not the old bits widened.
        const expected = new Set(diskEntries(store.db).map(([h6]) => Math.floor(h6 / 2 ** 21)));
        let set = 0;
        rows.forEach(([id, bits]) => {
          for (let i = 0; i < bits.length * 8; i++) {
            if (((bits[i >>> 3] as number) & (1 << (i & 7))) === 0) continue;
            set++;
            assert.ok(expected.has(id * bits.length * 8 + i), `row ${id} bit ${i} belongs to no entry`);
          }
        });
        assert.equal(set, expected.size);
        store.verifyIntegrity();
        expectEveryLeafFound(store, count);
        store.appendLeaves(leavesOf(count, count + 500));
        assert.deepEqual(store.appendLeaves([leafOf(count + 3)]), [count + 3]);
        store.close();
        const again = openStore(path);
        again.verifyIntegrity();
        expectEveryLeafFound(again, count + 500);
      });
    }

    it('rebuilds the filter of a schema-3 file whose filter rows are damaged', () => {
      const path = files.newPath('v3');
      writeVersion3(path, 400, 8);
      withDb(path, (db) => db.exec("DELETE FROM tree_dedup_filter WHERE id = 7; UPDATE tree_dedup_filter SET bits = x'00' WHERE id = 3"));
      const store = openStore(path);
      assert.equal(state(store.db, 'schema_version'), SCHEMA_VERSION);
      for (const [h6, idx] of diskEntries(store.db)) assert.ok(storedFilterHas(store.db, h6, 27), `filter misses leaf ${idx}`);
      store.verifyIntegrity();
      expectEveryLeafFound(store, 400);
    });

    it('refuses a schema-3 file read-only, naming the migration', () => {
      const path = files.newPath('v3');
      writeVersion3(path, 50, 8);
      assert.throws(() => TreeStore.open(path, { readOnly: true }), new RegExp(`tree schema version 3; it is migrated to ${SCHEMA_VERSION} when opened for writing`));
    });
  });
});
