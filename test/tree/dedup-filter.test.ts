// The leaf-hash index's prefix filter: 27 bits (schema 4), saved once per few
// chunks with dedup_filter_upto saying what the stored rows cover, the rest
// added from stored leaf hashes at open; two bits per prefix in each row until
// the index passes a threshold, then one again, slice by slice (schema 6); and
// the migrations of schema-3 and schema-5 files, whose filters are rebuilt.
// Real files throughout; small dedup chunks so that saves happen within a few
// hundred leaves, and a low threshold so that rows go back to one bit.
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

const SLICE_BITS = 2 ** 22;
const TWO_BITS_ALL = 2 ** 32 - 1;

/** The filter bits (index into the whole 2^27-bit filter) of prefix h6, in one- or two-bit form. */
function bitsOf(h6: number, twoBits: boolean): number[] {
  const first = Math.floor(h6 / 2 ** 21);
  return twoBits ? [first, first - (first % SLICE_BITS) + (h6 % SLICE_BITS)] : [first];
}

/** Every set bit of the stored rows, as indices into the whole filter. */
function storedBits(db: Database.Database): Set<number> {
  const set = new Set<number>();
  for (const [id, bits] of db.prepare('SELECT id, bits FROM tree_dedup_filter ORDER BY id').raw().all() as Array<[number, Buffer]>) {
    for (let i = 0; i < bits.length * 8; i++) if (((bits[i >>> 3] as number) & (1 << (i & 7))) !== 0) set.add(id * bits.length * 8 + i);
  }
  return set;
}

/** Whether slice s is in two-bit form by the state's mask. */
function twoBitSlice(mask: number, s: number): boolean {
  return Math.floor(mask / 2 ** s) % 2 === 1;
}

/** A closed file holding leaves [0, count), appended `batch` at a time with this dedup chunk. */
function storedTree(prefix: string, count: number, batch: number, dedupChunk: number): string {
  const path = files.newPath(prefix);
  const store = openStore(path, { dedupChunk });
  for (let n = 0; n < count; n += batch) store.appendLeaves(leavesOf(n, Math.min(count, n + batch)));
  store.close();
  return path;
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
    function writeVersion3(count: number, chunk: number): string {
      const path = storedTree('v3', count, 11, chunk);
      withDb(path, (db) =>
        db.transaction(() => {
          rewriteFilterAsSchema3(db);
          db.prepare("UPDATE tree_state SET value = 3 WHERE name = 'schema_version'").run();
        })(),
      );
      return path;
    }

    for (const [count, chunk] of [
      [0, 8],
      [5, 8], // nothing on disk
      [300, 8],
      [2000, 4],
      [300, 512], // one chunk in memory, none on disk
    ] as const) {
      it(`rebuilds the filter of a ${count}-leaf file (chunk ${chunk}) at 27 bits, two per prefix; every leaf is still found`, () => {
        const path = writeVersion3(count, chunk);
        const store = openStore(path);
        assert.equal(state(store.db, 'schema_version'), SCHEMA_VERSION);
        assert.equal(state(store.db, 'dedup_filter_upto'), state(store.db, 'dedup_upto'));
        const rows = store.db.prepare('SELECT id, bits FROM tree_dedup_filter ORDER BY id').raw().all() as Array<[number, Buffer]>;
        assert.deepEqual(rows.map(([id, bits]) => [id, bits.length]), Array.from({ length: 32 }, (_v, id) => [id, 2 ** 24 / 32]));
        // Exactly the entries' bits: rebuilt, not the old bits widened.
        assert.equal(state(store.db, 'dedup_filter_two_bits'), TWO_BITS_ALL);
        const expected = new Set(diskEntries(store.db).flatMap(([h6]) => bitsOf(h6, true)));
        assert.deepEqual(storedBits(store.db), expected);
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
      const path = writeVersion3(400, 8);
      withDb(path, (db) => db.exec("DELETE FROM tree_dedup_filter WHERE id = 7; UPDATE tree_dedup_filter SET bits = x'00' WHERE id = 3"));
      const store = openStore(path);
      assert.equal(state(store.db, 'schema_version'), SCHEMA_VERSION);
      for (const [h6, idx] of diskEntries(store.db)) assert.ok(storedFilterHas(store.db, h6, 27), `filter misses leaf ${idx}`);
      store.verifyIntegrity();
      expectEveryLeafFound(store, 400);
    });

    it('refuses a schema-3 file read-only, naming the migration', () => {
      const path = writeVersion3(50, 8);
      assert.throws(() => TreeStore.open(path, { readOnly: true }), new RegExp(`tree schema version 3; it is migrated to ${SCHEMA_VERSION} when opened for writing`));
    });
  });

  describe('two bits per prefix (schema 6)', () => {
    it('a new file keeps two bits for every disk entry in every stored row', () => {
      withDb(storedTree('two', 1300, 13, 8), (db) => {
        assert.equal(state(db, 'dedup_filter_two_bits'), TWO_BITS_ALL);
        const upto = state(db, 'dedup_filter_upto') as number;
        const stored = storedBits(db);
        let checked = 0;
        for (const [h6, idx] of diskEntries(db)) {
          if (idx >= upto) continue;
          checked++;
          for (const bit of bitsOf(h6, true)) assert.ok(stored.has(bit), `stored filter misses bit ${bit} of leaf ${idx}`);
        }
        assert.ok(checked > 1000, `${checked} entries checked`);
      });
    });

    it('admits far fewer prefixes that no entry has than one bit would', () => {
      withDb(storedTree('fp', 20_480, 1024, 1024), (db) => {
        const entries = diskEntries(db);
        assert.ok(entries.length >= 16_384, `${entries.length} disk entries`);
        const stored = storedBits(db);
        // Prefixes next to stored ones (lowest bit flipped): same first bit, so one bit admits every one.
        let admitted = 0;
        for (const [h6] of entries) if (bitsOf(h6 ^ 1, true).every((bit) => stored.has(bit))) admitted++;
        assert.ok(admitted < entries.length / 50, `two bits admit ${admitted} of ${entries.length}`);
      });
    });

    /** A schema-5 file as the previous version wrote it: the same tree, its filter rows one bit per prefix. */
    function writeVersion5(count: number, chunk: number): string {
      const path = storedTree('v5', count, 11, chunk);
      withDb(path, (db) =>
        db.transaction(() => {
          const bits = new Uint8Array(2 ** 24);
          for (const [h6] of diskEntries(db)) {
            const bit = Math.floor(h6 / 2 ** 21);
            bits[bit >>> 3] = (bits[bit >>> 3] as number) | (1 << (bit & 7));
          }
          const put = db.prepare('UPDATE tree_dedup_filter SET bits = ? WHERE id = ?');
          for (let id = 0; id < 32; id++) put.run(bits.subarray(id * 2 ** 19, (id + 1) * 2 ** 19), id);
          db.exec("DELETE FROM tree_state WHERE name = 'dedup_filter_two_bits'; UPDATE tree_state SET value = 5 WHERE name = 'schema_version'");
        })(),
      );
      return path;
    }

    for (const [count, chunk] of [
      [0, 8],
      [300, 8],
      [2000, 4],
    ] as const) {
      it(`migrates a ${count}-leaf schema-5 file (chunk ${chunk}): the filter is rebuilt with two bits, every leaf found, repeats refused`, () => {
        const path = writeVersion5(count, chunk);
        const store = openStore(path);
        assert.equal(state(store.db, 'schema_version'), SCHEMA_VERSION);
        assert.equal(state(store.db, 'dedup_filter_two_bits'), TWO_BITS_ALL);
        assert.equal(state(store.db, 'dedup_filter_upto'), state(store.db, 'dedup_upto'));
        assert.deepEqual(storedBits(store.db), new Set(diskEntries(store.db).flatMap(([h6]) => bitsOf(h6, true))));
        store.verifyIntegrity();
        expectEveryLeafFound(store, count);
        if (count > 0) assert.deepEqual(store.appendLeaves([leafOf(count - 1), leafOf(count)]), [count - 1, count]);
        store.close();
        const again = openStore(path);
        again.verifyIntegrity();
        expectEveryLeafFound(again, count);
      });
    }

    it('refuses a schema-5 file read-only, naming the migration', () => {
      const path = writeVersion5(50, 8);
      assert.throws(() => TreeStore.open(path, { readOnly: true }), new RegExp(`tree schema version 5; it is migrated to ${SCHEMA_VERSION} when opened for writing`));
    });

    it('past the threshold every slice goes back to one bit, a slice at a time, finding every leaf all along', () => {
      const path = files.newPath('one');
      // Batches of 3 leaves re-read ~12 entries of a slice of ~100: each slice takes several
      // transactions, and entries arrive in its part already re-read.
      const options = { dedupChunk: 8, filterOneBitFrom: 3000 };
      let store = openStore(path, options);
      store.appendLeaves(leavesOf(0, 3000));
      const masks = new Set<number>();
      let n = 3000;
      for (; n < 9000; n += 3) {
        store.appendLeaves(leavesOf(n, n + 3));
        const mask = state(store.db, 'dedup_filter_two_bits') as number;
        masks.add(mask);
        if (n % 300 === 0) {
          expectEveryLeafFound(store, n + 3);
          // A restart loses the slice in progress, not the finished ones.
          store.close();
          store = openStore(path, options);
          assert.equal(state(store.db, 'dedup_filter_two_bits'), mask);
        }
        if (mask === 0) break;
      }
      assert.ok(n > 3300, `one bit everywhere only after ${n} leaves`);
      assert.equal(state(store.db, 'dedup_filter_two_bits'), 0, `all slices one-bit after ${n} leaves`);
      // Slices went one at a time, lowest first: each mask seen clears the lowest bits.
      for (const mask of masks) for (let s = 1; s < 32; s++) assert.ok(!(twoBitSlice(mask, s - 1) && !twoBitSlice(mask, s)) || mask === TWO_BITS_ALL, `mask ${mask.toString(2)}`);
      assert.ok(masks.size > 20, `${masks.size} masks`);
      store.appendLeaves(leavesOf(n + 3, n + 400));
      store.verifyIntegrity();
      expectEveryLeafFound(store, n + 400);
      store.close();
      withDb(path, (db) => {
        // One-bit rows hold exactly the first bits of the disk entries (rebuilt, not the two-bit bits kept).
        const upto = state(db, 'dedup_filter_upto') as number;
        const stored = storedBits(db);
        const all = new Set(diskEntries(db).map(([h6]) => Math.floor(h6 / 2 ** 21)));
        for (const [h6, idx] of diskEntries(db)) if (idx < upto) assert.ok(stored.has(Math.floor(h6 / 2 ** 21)), `leaf ${idx}`);
        for (const bit of stored) assert.ok(all.has(bit), `stored bit ${bit} belongs to no entry`);
      });
      const again = openStore(path, options);
      again.verifyIntegrity();
      expectEveryLeafFound(again, n + 400);
      assert.deepEqual(again.appendLeaves([leafOf(17), leafOf(n + 400)]), [17, n + 400]);
    });

    it('rejects a malformed form state, and rebuildDerived repairs it', () => {
      const path = files.newPath('bad-form');
      const store = openStore(path, { dedupChunk: 8 });
      store.appendLeaves(leavesOf(0, 200));
      store.close();
      for (const bad of ['-1', '4294967296', '1.5', "'x'"]) {
        withDb(path, (db) => db.exec(`UPDATE tree_state SET value = ${bad} WHERE name = 'dedup_filter_two_bits'`));
        const damaged = openStore(path);
        assert.throws(() => damaged.indexOfLeafHash(leafHash(leafOf(3))), /dedup filter form .* is not a mask of 32 slices/);
        assert.match(damaged.checkTree().problems[0]?.message ?? '', /dedup filter form/);
        damaged.close();
      }
      const repaired = openStore(path);
      repaired.rebuildDerived();
      assert.equal(state(repaired.db, 'dedup_filter_two_bits'), TWO_BITS_ALL);
      assert.deepEqual(repaired.checkTree().problems, []);
      expectEveryLeafFound(repaired, 200);
    });
  });
});
