// The tlog-tiles layout as pure functions: path encoding (the spec's
// examples), canonical parsing with a clear 400 for anything else, partial
// widths, and the entry bundle encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError } from '../../src/errors.js';
import {
  coveredBy,
  decodeEntryBundle,
  encodeEntryBundle,
  formatTileIndex,
  formatTilePath,
  parseTilePath,
  partialTileWidth,
  tileLevelCount,
  tilesAtLevel,
  type TileRef,
} from '../../src/tiles/layout.js';

test('tile index: zero-padded 3-digit groups, x-prefixed but the last (the spec example)', () => {
  assert.equal(formatTileIndex(1234067), 'x001/x234/067');
  assert.equal(formatTileIndex(0), '000');
  assert.equal(formatTileIndex(999), '999');
  assert.equal(formatTileIndex(1000), 'x001/000');
  assert.equal(formatTileIndex(1_000_000), 'x001/x000/000');
  assert.equal(formatTilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
  assert.equal(formatTilePath({ level: 2, index: 5, width: 17 }), 'tile/2/005.p/17');
  assert.equal(formatTilePath({ level: 'entries', index: 1000, width: 1 }), 'tile/entries/x001/000.p/1');
});

test('tile paths: every canonical path parses back to its resource', () => {
  const refs: TileRef[] = [];
  for (const level of [0, 1, 7, 63, 'entries'] as const) {
    for (const index of [0, 1, 999, 1000, 1001, 123_456_789, 2 ** 40]) {
      for (const width of [1, 2, 255, 256]) refs.push({ level, index, width });
    }
  }
  for (const ref of refs) assert.deepEqual(parseTilePath(formatTilePath(ref).split('/').slice(1)), ref);
});

test('tile paths: non-canonical or malformed paths are 400 with a one-line reason', () => {
  const bad = [
    '0', 'entries', '0/1', '0/0000', '0/x000/001', '0/001/002', '0/x1/002', '0/xx01/002', '00/000', '64/000', '-1/000',
    'a/000', '0/000.p', '0/000.p/0', '0/000.p/256', '0/000.p/01', '0/000.p/x', '0/000.q/5', '0/00a', '0/x001/x002/x003/x004/x005/x006/007',
    'entries/000.p/', '0/.p/5', 'tiles/000',
  ];
  for (const path of bad) {
    assert.throws(() => parseTilePath(path.split('/')), (err: unknown) => {
      assert.ok(err instanceof BadRequestError, path);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    }, path);
  }
});

test('partial tiles: widths as the spec says (sizes 1, 255, 256, 257, 65,537 and the spec example 70,000)', () => {
  const widths = (size: number): number[] => Array.from({ length: tileLevelCount(size) }, (_, l) => partialTileWidth(l, size));
  assert.deepEqual(widths(1), [1]);
  assert.deepEqual(widths(255), [255]);
  assert.deepEqual(widths(256), [0, 1]); // one full level-0 tile, a partial level-1 tile of width 1
  assert.deepEqual(widths(257), [1, 1]);
  assert.deepEqual(widths(65_537), [1, 0, 1]);
  assert.deepEqual(widths(70_000), [112, 17, 1]);
  assert.deepEqual(tilesAtLevel(0, 70_000), { full: 273, partial: 112 });
  assert.deepEqual(tilesAtLevel(1, 70_000), { full: 1, partial: 17 });
  assert.equal(tileLevelCount(0), 0);
  // Coverage: a resource is served only when the head holds all of it.
  assert.ok(coveredBy({ level: 0, index: 0, width: 256 }, 256));
  assert.ok(!coveredBy({ level: 0, index: 0, width: 256 }, 255));
  assert.ok(coveredBy({ level: 0, index: 1, width: 1 }, 257));
  assert.ok(!coveredBy({ level: 0, index: 1, width: 2 }, 257));
  assert.ok(coveredBy({ level: 1, index: 0, width: 1 }, 256));
  assert.ok(!coveredBy({ level: 1, index: 0, width: 2 }, 511));
  assert.ok(coveredBy({ level: 'entries', index: 0, width: 100 }, 256), 'an old checkpoint\'s partial stays valid');
});

test('entry bundles: big-endian uint16 length prefixes; truncation is refused', () => {
  const entries = [new Uint8Array(128).fill(7), new Uint8Array(0), new Uint8Array(300).fill(1)];
  const bundle = encodeEntryBundle(entries);
  assert.equal(bundle.length, 2 + 128 + 2 + 2 + 300);
  assert.deepEqual([...bundle.subarray(0, 2)], [0, 128]);
  assert.deepEqual([...bundle.subarray(130, 132)], [0, 0]);
  assert.deepEqual([...bundle.subarray(132, 134)], [1, 44]);
  assert.deepEqual(decodeEntryBundle(bundle).map((e) => Buffer.from(e)), entries.map((e) => Buffer.from(e)));
  assert.throws(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1)), RangeError);
  assert.throws(() => decodeEntryBundle(bundle.subarray(0, 1)), RangeError);
});
