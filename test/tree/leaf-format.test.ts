// Leaf tile formats on real files: a new file is written in format 2 (31
// leaves per tile); a schema-2 file (format 1, 30 per tile) is migrated to
// schema 3 by recording its format, and everything keeps working on it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { toHex } from '../../src/hex.js';
import { leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import { SCHEMA_VERSION, TreeStore } from '../../src/tree/store.js';
import { dbPath, leafOf, leavesOf, rewriteFilterAsSchema3, rewriteLeafTilesAsFormat1, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
let files = 0;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

const rootOf = (leaves: readonly Uint8Array[]): string => toHex(rootFromLeafHashes(leaves.map(leafHash)));

function state(path: string, name: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT value FROM tree_state WHERE name = ?').pluck().get(name);
  } finally {
    db.close();
  }
}

function leafTileRows(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM tree_leaf_tiles').pluck().get() as number;
  } finally {
    db.close();
  }
}

/** A schema-2 file as the previous version wrote it: leaf format 1, no leaf_format record. */
function writeVersion2(path: string, leaves: readonly Uint8Array[]): void {
  const store = TreeStore.open(path);
  for (let i = 0; i < leaves.length; i += 7) store.appendLeaves(leaves.slice(i, i + 7));
  store.close();
  const db = new Database(path);
  db.transaction(() => {
    rewriteLeafTilesAsFormat1(db);
    rewriteFilterAsSchema3(db);
    db.prepare("UPDATE tree_state SET value = 2 WHERE name = 'schema_version'").run();
  })();
  db.close();
}

describe('leaf tile formats', () => {
  it('writes a new file in format 2, 31 leaves per tile', () => {
    const path = dbPath(dir, `new-${files++}.db`);
    const store = TreeStore.open(path);
    store.appendLeaves(leavesOf(0, 100));
    store.close();
    assert.equal(state(path, 'leaf_format'), 2);
    assert.equal(state(path, 'schema_version'), SCHEMA_VERSION);
    assert.equal(leafTileRows(path), Math.ceil(100 / 31));
  });

  for (const count of [0, 29, 30, 31, 61, 200]) {
    it(`opens a schema-2 file of ${count} leaves: format 1 recorded, same tree, appends, truncation and checks go on in it`, () => {
      const path = dbPath(dir, `v2-${files++}.db`);
      const leaves = leavesOf(0, count);
      writeVersion2(path, leaves);
      assert.throws(() => TreeStore.open(path, { readOnly: true }), new RegExp(`tree schema version 2; it is migrated to ${SCHEMA_VERSION} when opened for writing`));
      const store = TreeStore.open(path);
      try {
        assert.equal(state(path, 'schema_version'), SCHEMA_VERSION);
        assert.equal(state(path, 'leaf_format'), 1);
        assert.equal(store.size(), count);
        if (count > 0) assert.equal(toHex(store.rootAt(count)), rootOf(leaves));
        for (let i = 0; i < count; i += 3) assert.deepEqual(Buffer.from(store.leafAt(i)), Buffer.from(leafOf(i)));
        store.verifyIntegrity();
        const more = leavesOf(0, count + 95);
        assert.deepEqual(store.appendLeaves([...(count > 0 ? [leafOf(0)] : []), ...more.slice(count)]).slice(-1), [count + 94]);
        assert.equal(leafTileRows(path), Math.ceil((count + 95) / 30));
        assert.equal(toHex(store.rootAt(count + 95)), rootOf(more));
        store.truncate(count + 40);
        assert.equal(leafTileRows(path), Math.ceil((count + 40) / 30));
        store.verifyIntegrity();
        assert.deepEqual(store.leaves(0, count + 40).map((l) => Buffer.from(l).toString('hex')), more.slice(0, count + 40).map((l) => Buffer.from(l).toString('hex')));
      } finally {
        store.close();
      }
      const readOnly = TreeStore.open(path, { readOnly: true });
      try {
        assert.equal(readOnly.size(), count + 40);
        assert.equal(readOnly.checkTree().problems.length, 0);
      } finally {
        readOnly.close();
      }
    });
  }

  it('refuses a file whose leaf_format it does not know, naming it', () => {
    const path = dbPath(dir, `odd-${files++}.db`);
    TreeStore.open(path).close();
    const db = new Database(path);
    db.prepare("UPDATE tree_state SET value = 9 WHERE name = 'leaf_format'").run();
    db.close();
    assert.throws(() => TreeStore.open(path), /unknown leaf tile format 9/);
  });
});
