// The leveled disk level of the leaf-hash index (schema 2) and the migration
// of a schema-1 file. Small dedup chunks make entries pass through several
// levels within a few thousand leaves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { toHex } from '../../src/hex.js';
import { leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import { SCHEMA_VERSION, TreeIntegrityError, TreeStore } from '../../src/tree/store.js';
import { leafOf, leavesOf, rewriteFilterAsSchema3, rewriteLeafTilesAsFormat1, storeFiles } from './helpers.js';

const files = storeFiles();
const openStore = files.open;

function levelCounts(path: string): Map<number, number> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT level, count(*) FROM tree_dedup GROUP BY level').raw().all() as Array<[number, number]>;
    return new Map(rows);
  } finally {
    db.close();
  }
}

function rootOf(leaves: readonly Uint8Array[]): string {
  return toHex(rootFromLeafHashes(leaves.map((l) => leafHash(l))));
}

describe('leaf-hash index levels', () => {
  it('moves entries down through several levels, finding every leaf at every step, across reopen and truncate', () => {
    const path = files.newPath('levels');
    // chunk 2: level 1 holds 16, level 2 holds 128, level 3 holds 1024 before moving on.
    let store = openStore(path, { dedupChunk: 2 });
    const total = 3000;
    const seen = new Set<number>();
    for (let n = 0; n < total; ) {
      const size = 1 + ((n * 7) % 23); // batches of 1..23 leaves
      const batch = leavesOf(n, Math.min(total, n + size));
      // Each batch repeats an older leaf: dedup must find it wherever it is now.
      const old = n === 0 ? undefined : (n * 31) % n;
      const input = old === undefined ? batch : [...batch, leafOf(old)];
      const got = store.appendLeaves(input);
      assert.deepEqual(got.slice(0, batch.length), batch.map((_l, i) => n + i));
      if (old !== undefined) assert.equal(got[batch.length], old, `duplicate of ${old} at size ${n}`);
      n += batch.length;
      for (const level of levelCounts(path).keys()) seen.add(level);
      if (n % 701 < 23) {
        store.verifyIntegrity();
        store.close();
        store = openStore(path, { dedupChunk: 2 });
      }
    }
    assert.ok(seen.has(1) && seen.has(2) && seen.has(3) && seen.has(4), `levels seen: ${[...seen].join(', ')}`);
    const counts = levelCounts(path);
    assert.ok((counts.get(1) ?? 0) <= 2 * 16 + 2, `level 1 stays near its capacity: ${counts.get(1)}`);
    store.verifyIntegrity();
    for (let i = 0; i < total; i++) assert.equal(store.indexOfLeafHash(leafHash(leafOf(i))), i, `leaf ${i}`);
    assert.equal(store.indexOfLeafHash(leafHash(leafOf(total))), undefined);

    for (const size of [2500, 1100, 40, 7]) {
      store.truncate(size);
      store.verifyIntegrity();
      for (let i = 0; i < total; i += 13) {
        assert.equal(store.indexOfLeafHash(leafHash(leafOf(i))), i < size ? i : undefined, `leaf ${i} after truncating to ${size}`);
      }
    }
    assert.deepEqual(store.appendLeaves(leavesOf(7, 2000)), Array.from({ length: 1993 }, (_v, i) => 7 + i));
    store.verifyIntegrity();
    for (let i = 0; i < 2000; i++) assert.equal(store.indexOfLeafHash(leafHash(leafOf(i))), i);
  });

  it('answers the lowest index of a leaf stored many times (replica mode) while its copies sit in different levels', () => {
    const path = files.newPath('levels');
    const store = openStore(path, { dedupChunk: 2 });
    const repeated = leafOf(0, 'repeated');
    const copies = [5, 40, 41, 300, 901, 2000, 2999];
    const leaves = leavesOf(0, 3000).map((leaf, i) => (copies.includes(i) ? repeated : leaf));
    for (let n = 0; n < leaves.length; ) {
      const size = 1 + ((n * 5) % 17);
      store.appendPreordered(n, leaves.slice(n, n + size));
      n = Math.min(leaves.length, n + size);
      if (n > 5) assert.equal(store.indexOfLeafHash(leafHash(repeated)), 5, `at size ${n}`);
    }
    const levels = new Database(path, { readonly: true });
    const where = levels.prepare('SELECT idx, level FROM tree_dedup WHERE idx IN (5, 40, 41, 300, 901, 2000, 2999)').raw().all();
    levels.close();
    assert.ok(new Set(where.map((r) => (r as [number, number])[1])).size >= 2, `copies in one level only: ${JSON.stringify(where)}`);
    store.verifyIntegrity();
    store.truncate(41);
    assert.equal(store.indexOfLeafHash(leafHash(repeated)), 5);
    store.truncate(5);
    assert.equal(store.indexOfLeafHash(leafHash(repeated)), undefined);
  });

  it('reports a wrong per-level row count as an integrity problem', () => {
    const path = files.newPath('levels');
    const store = openStore(path, { dedupChunk: 2 });
    store.appendLeaves(leavesOf(0, 300));
    store.verifyIntegrity();
    store.close();
    const other = new Database(path);
    other.exec("UPDATE tree_dedup SET level = level + 1 WHERE idx = (SELECT min(idx) FROM tree_dedup WHERE level = 1)");
    other.close();
    const again = openStore(path);
    assert.throws(() => again.verifyIntegrity(), TreeIntegrityError);
    // Answers stay right: every level is probed.
    for (let i = 0; i < 300; i++) assert.equal(again.indexOfLeafHash(leafHash(leafOf(i))), i);
  });
});

describe('schema 1 → 2 migration', () => {
  /**
   * Writes a schema-1 file as the previous version did: tables of version 1
   * (tree_dedup keyed by (h6, idx), no level), its state rows, and the same
   * leaves, hashes and disk entries a version-1 store held. The content comes
   * from a current store, converted with SQL to the old layout.
   */
  function writeVersion1(path: string, leaves: readonly Uint8Array[], dedupChunk: number): void {
    const store = TreeStore.open(path, { dedupChunk });
    for (let i = 0; i < leaves.length; i += 9) store.appendLeaves(leaves.slice(i, i + 9));
    store.close();
    const db = new Database(path);
    db.exec('BEGIN');
    rewriteLeafTilesAsFormat1(db);
    rewriteFilterAsSchema3(db);
    db.exec(`
CREATE TABLE tree_dedup_v1 (h6 INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (h6, idx)) WITHOUT ROWID;
INSERT INTO tree_dedup_v1 (h6, idx) SELECT h6, idx FROM tree_dedup;
DROP TABLE tree_dedup;
ALTER TABLE tree_dedup_v1 RENAME TO tree_dedup;
DELETE FROM tree_state WHERE name GLOB 'dedup_rows_*' OR name GLOB 'dedup_cursor_*';
UPDATE tree_state SET value = 1 WHERE name = 'schema_version';
COMMIT;`);
    const columns = db.prepare("SELECT name FROM pragma_table_info('tree_dedup')").pluck().all();
    assert.deepEqual(columns, ['h6', 'idx']);
    db.close();
  }

  for (const [count, chunk, level] of [
    [200, 8, 2], // 192 disk entries: more than level 1's 64, within level 2's 512
    [40, 64, 1], // nothing on disk yet
    [1000, 4, 3],
  ] as const) {
    it(`opens a version-1 file of ${count} leaves (chunk ${chunk}): same tree, entries at level ${level}, appends go on`, () => {
      const path = files.newPath('v1');
      const leaves = leavesOf(0, count);
      writeVersion1(path, leaves, chunk);
      const store = openStore(path);
      assert.equal(store.size(), count);
      assert.equal(toHex(store.rootAt(count)), rootOf(leaves));
      store.verifyIntegrity();
      const version = store.db.prepare("SELECT value FROM tree_state WHERE name = 'schema_version'").pluck().get();
      assert.equal(version, SCHEMA_VERSION);
      const disk = Math.floor(count / chunk) * chunk;
      const counts = levelCounts(path);
      if (disk > chunk) assert.deepEqual([...counts.entries()].filter(([, n]) => n > 0).map(([l]) => l), [level]);
      for (let i = 0; i < count; i++) assert.equal(store.indexOfLeafHash(leafHash(leafOf(i))), i);
      assert.deepEqual(store.appendLeaves([leafOf(3), leafOf(count)]), [3, count]);
      store.appendLeaves(leavesOf(count + 1, count + 700));
      store.verifyIntegrity();
      assert.equal(toHex(store.rootAt(count + 700)), rootOf(leavesOf(0, count + 700)));
      store.close();
      const again = openStore(path);
      for (let i = 0; i < count + 700; i += 3) assert.equal(again.indexOfLeafHash(leafHash(leafOf(i))), i);
    });
  }

  it('leaves a version-1 file untouched when the migration fails part-way', () => {
    const path = files.newPath('v1');
    writeVersion1(path, leavesOf(0, 100), 8);
    const db = new Database(path);
    // A view on the old table makes the migration's rename fail after the
    // new table was filled and the old one dropped: the open must fail and roll back.
    db.exec('CREATE VIEW uses_dedup AS SELECT h6 FROM tree_dedup');
    db.close();
    assert.throws(() => TreeStore.open(path));
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.prepare("SELECT value FROM tree_state WHERE name = 'schema_version'").pluck().get(), 1);
      assert.deepEqual(check.prepare("SELECT name FROM pragma_table_info('tree_dedup')").pluck().all(), ['h6', 'idx']);
    } finally {
      check.close();
    }
  });
});
