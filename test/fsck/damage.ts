// Real damage to a copy of a node's database, for the fsck tests. Everything
// that knows the tree store's layout (tables, leaf and hash tile encodings)
// is here, so a change of the layout touches this file and src/tree only.
import { copyFileSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { leafTileFormat, type LeafTileFormat } from '../../src/tree/leaf-tiles.js';
import { nodeAddress, tileId } from '../../src/tree/tiles.js';
import { HASH_SIZE } from '../../src/types.js';
import { withDb } from '../tree/helpers.js';

/** Copies a stopped node's database (and its WAL, if any) to `to`. */
export function copyDatabase(from: string, to: string): void {
  copyFileSync(from, to);
  for (const suffix of ['-wal', '-shm']) if (existsSync(from + suffix)) copyFileSync(from + suffix, to + suffix);
}

function updateBlob(db: Database.Database, table: string, keyColumn: string, valueColumn: string, key: number, change: (blob: Buffer) => Buffer): void {
  const blob = db.prepare(`SELECT ${valueColumn} FROM ${table} WHERE ${keyColumn} = ?`).pluck().get(key) as Buffer | undefined;
  if (!Buffer.isBuffer(blob)) throw new Error(`no ${table} row ${key}`);
  db.prepare(`UPDATE ${table} SET ${valueColumn} = ? WHERE ${keyColumn} = ?`).run(change(Buffer.from(blob)), key);
}

function leafFormatOf(db: Database.Database): LeafTileFormat {
  return leafTileFormat(db.prepare("SELECT value FROM tree_state WHERE name = 'leaf_format'").pluck().get());
}

/** Where leaf `index` lies: its tile k and the byte range of the leaf itself within the tile blob. */
function leafPlace(db: Database.Database, index: number): { k: number; tile: Buffer; start: number; end: number } {
  const format = leafFormatOf(db);
  const k = Math.floor(index / format.width);
  const tile = db.prepare('SELECT leaves FROM tree_leaf_tiles WHERE k = ?').pluck().get(k) as Buffer;
  const before = format.prefixBytes(tile, index - k * format.width);
  const through = format.prefixBytes(tile, index - k * format.width + 1);
  const leaf = format.decode(tile.subarray(before, through))[0] as Uint8Array;
  return { k, tile, start: through - leaf.length, end: through };
}

/** Flips one byte (offset within the leaf) of the stored leaf at `index`. */
export function flipLeafByte(file: string, index: number, offset = 40): void {
  withDb(file, (db) => {
    const { k, start } = leafPlace(db, index);
    updateBlob(db, 'tree_leaf_tiles', 'k', 'leaves', k, (tile) => {
      tile[start + offset] = (tile[start + offset] as number) ^ 0x01;
      return tile;
    });
  });
}

/** The stored leaf at `index`, as stored. */
export function storedLeaf(file: string, index: number): Buffer {
  return withDb(file, (db) => {
    const { tile, start, end } = leafPlace(db, index);
    return Buffer.from(tile.subarray(start, end));
  });
}

/** Flips one byte of the stored hash of node (level, index). */
export function flipStoredHashByte(file: string, level: number, index: number): void {
  const at = nodeAddress(level, index);
  withDb(file, (db) => {
    updateBlob(db, 'tree_hash_tiles', 'id', 'hashes', tileId(at.tileLevel, at.tileIndex), (tile) => {
      const byte = at.position * HASH_SIZE + 7;
      tile[byte] = (tile[byte] as number) ^ 0x80;
      return tile;
    });
  });
}

/** Removes hash tile (tileLevel, tileIndex). */
export function deleteHashTile(file: string, tileLevel: number, tileIndex: number): void {
  withDb(file, (db) => db.prepare('DELETE FROM tree_hash_tiles WHERE id = ?').run(tileId(tileLevel, tileIndex)));
}

/** Removes the on-disk leaf-hash index entry of leaf `index`; throws if there is none. */
export function deleteLeafIndexEntry(file: string, index: number): void {
  withDb(file, (db) => {
    if (db.prepare('DELETE FROM tree_dedup WHERE idx = ?').run(index).changes !== 1) throw new Error(`leaf ${index} has no on-disk index entry`);
  });
}

/** Clears the leaf-hash index's filter (every prefix then looks absent). */
export function clearLeafIndexFilter(file: string): void {
  withDb(file, (db) => db.exec('UPDATE tree_dedup_filter SET bits = zeroblob(length(bits))'));
}

/** How many leaves the on-disk leaf-hash index covers (so a test picks an index it holds). */
export function leafIndexOnDisk(file: string): number {
  return withDb(file, (db) => db.prepare("SELECT value FROM tree_state WHERE name = 'dedup_upto'").pluck().get() as number);
}

/** Sets a meta record (tree_meta). */
export function setRecord(file: string, key: string, value: string): void {
  withDb(file, (db) => db.prepare('INSERT INTO tree_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value));
}

export function getRecord(file: string, key: string): string | undefined {
  return withDb(file, (db) => db.prepare('SELECT value FROM tree_meta WHERE key = ?').pluck().get(key) as string | undefined);
}

/** Sets the tree's schema version record. */
export function setSchemaVersion(file: string, version: number): void {
  withDb(file, (db) => db.prepare("UPDATE tree_state SET value = ? WHERE name = 'schema_version'").run(version));
}

/** Every stored hash tile, in id order, as one buffer: to compare a rebuilt tree with the original. */
export function allHashTiles(file: string): Buffer {
  return withDb(file, (db) => Buffer.concat((db.prepare('SELECT id, hashes FROM tree_hash_tiles ORDER BY id').raw().all() as Array<[number, Buffer]>).map(([id, h]) => Buffer.concat([Buffer.from(String(id)), h]))));
}
