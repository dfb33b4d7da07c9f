import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TileCache } from '../../src/tree/tile-cache.js';

const tile = (n: number): Buffer => Buffer.alloc(n);
const BOTTOM_LIMIT = 1_000_000; // ids below are bottom tiles in these tests
const isBottom = (id: number): boolean => id < BOTTOM_LIMIT;

function cachedCount(cache: TileCache, ids: Iterable<number>): number {
  let n = 0;
  for (const id of ids) if (cache.get(id, 0) !== undefined) n++;
  return n;
}

describe('TileCache', () => {
  it('keeps upper tiles while a stream of bottom misses passes through, within its capacity', () => {
    const cache = new TileCache(64, isBottom);
    const upper = Array.from({ length: 50 }, (_v, i) => BOTTOM_LIMIT + i);
    for (const id of upper) cache.set(id, tile(32));
    for (let id = 0; id < 10_000; id++) cache.set(id, tile(32));
    assert.equal(cachedCount(cache, upper), 50);
    assert.equal(cachedCount(cache, Array.from({ length: 10_000 }, (_v, i) => i)), 14);
    // Upper tiles beyond capacity minus the bottom reserve (64/8) evict each other, oldest first.
    for (let i = 50; i < 80; i++) cache.set(BOTTOM_LIMIT + i, tile(32));
    assert.equal(cachedCount(cache, Array.from({ length: 80 }, (_v, i) => BOTTOM_LIMIT + i)), 56);
    assert.equal(cache.get(BOTTOM_LIMIT, 0), undefined);
    assert.notEqual(cache.get(BOTTOM_LIMIT + 79, 0), undefined);
    assert.equal(cachedCount(cache, Array.from({ length: 10_000 }, (_v, i) => i)), 8);
  });

  it('gives bottom tiles the room upper tiles leave, and answers only blobs long enough', () => {
    const cache = new TileCache(16, isBottom);
    for (let id = 0; id < 16; id++) cache.set(id, tile(64));
    assert.equal(cachedCount(cache, Array.from({ length: 16 }, (_v, i) => i)), 16);
    assert.equal(cache.get(3, 65), undefined);
    cache.set(3, tile(96)); // a longer version replaces the shorter in place
    assert.equal(cache.get(3, 65)?.length, 96);
    cache.clear();
    assert.equal(cache.get(3, 0), undefined);
  });

  it('works with a capacity of one, either class first', () => {
    for (const order of [[1, BOTTOM_LIMIT], [BOTTOM_LIMIT, 1]]) {
      const cache = new TileCache(1, isBottom);
      for (let round = 0; round < 3; round++) {
        for (const id of order) {
          cache.set(id, tile(8));
          assert.notEqual(cache.get(id, 0), undefined);
          assert.equal(cachedCount(cache, order), 1);
        }
      }
    }
  });
});
