import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RightEdge, edgeLevels } from '../../src/tree/compact.js';
import { TreeIntegrityError } from '../../src/tree/errors.js';
import { leafHashText } from '../../src/tree/hash.js';
import { decodeLeaves, encodeLeaves, prefixBytes } from '../../src/tree/leaf-tiles.js';
import {
  FULL_TILE_HASHES,
  nodeAddress,
  nodeTileId,
  TILE_HEIGHT,
  tileBytes,
  tileCount,
  tileId,
  tileLevels,
} from '../../src/tree/tiles.js';
import { HASH_SIZE } from '../../src/types.js';

/** Every complete node of a tree of size n, as (level, index). */
function* completeNodes(n: number): Generator<[number, number]> {
  for (let level = 0; 2 ** level <= n; level++) {
    for (let index = 0; (index + 1) * 2 ** level <= n; index++) yield [level, index];
  }
}

describe('hash tile addressing', () => {
  it('gives every complete node its own slot, filling each tile exactly as tileBytes says', () => {
    const sizes = [...Array.from({ length: 300 }, (_, i) => i + 1), 4095, 4096, 4097, 5000, 70_000];
    for (const n of sizes) {
      const slots = new Map<number, Set<number>>(); // tile id → positions
      for (const [level, index] of completeNodes(n)) {
        const at = nodeAddress(level, index);
        const id = tileId(at.tileLevel, at.tileIndex);
        assert.equal(nodeTileId(level, index), id);
        assert.equal(at.tileLevel, Math.floor(level / TILE_HEIGHT));
        assert.ok(at.position >= 0 && at.position < FULL_TILE_HASHES);
        const positions = slots.get(id) ?? new Set<number>();
        assert.ok(!positions.has(at.position), `size ${n}: two nodes at tile ${id} position ${at.position}`);
        positions.add(at.position);
        slots.set(id, positions);
      }
      let tiles = 0;
      for (let level = 0; level < tileLevels(n); level++) {
        for (let k = 0; k < tileCount(level, n); k++) {
          const positions = slots.get(tileId(level, k));
          assert.ok(positions, `size ${n}: tile (${level}, ${k}) holds nothing`);
          assert.equal(positions.size * HASH_SIZE, tileBytes(level, k, n), `size ${n}: tile (${level}, ${k})`);
          assert.equal(Math.max(...positions), positions.size - 1, 'positions are a prefix');
          tiles++;
        }
        assert.equal(tileBytes(level, tileCount(level, n), n), 0, 'no tile beyond the count');
      }
      assert.equal(slots.size, tiles, `size ${n}: tiles outside tileCount`);
    }
  });

  it('emits nodes during appends in stored order, so tiles only grow at the end', () => {
    const edge = new RightEdge(0, []);
    const next = new Map<number, number>(); // tile id → next position
    for (let i = 0; i < 5000; i++) {
      edge.push(leafHashText(new Uint8Array([i & 0xff, i >> 8])), (level, index) => {
        const at = nodeAddress(level, index);
        const id = tileId(at.tileLevel, at.tileIndex);
        assert.equal(at.position, next.get(id) ?? 0, `node (${level}, ${index})`);
        next.set(id, at.position + 1);
      });
    }
    assert.deepEqual(edgeLevels(5000), [12, 9, 8, 7, 3]); // 4096 + 512 + 256 + 128 + 8
  });
});

describe('leaf tile encoding', () => {
  it('round-trips leaves of any length, including empty ones', () => {
    const leaves = [new Uint8Array(0), new Uint8Array([1]), new Uint8Array(128).fill(7), new Uint8Array(70_000).fill(9)];
    const tile = encodeLeaves(leaves);
    assert.deepEqual(decodeLeaves(tile).map((l) => Buffer.from(l).toString('hex')), leaves.map((l) => Buffer.from(l).toString('hex')));
    assert.equal(prefixBytes(tile, 0), 0);
    assert.equal(prefixBytes(tile, 2), 4 + 0 + 4 + 1);
    assert.equal(prefixBytes(tile, 4), tile.length);
    assert.deepEqual(decodeLeaves(Buffer.concat([encodeLeaves(leaves.slice(0, 2)), encodeLeaves(leaves.slice(2))])).length, 4);
  });

  it('rejects truncated encodings as integrity errors', () => {
    const tile = encodeLeaves([new Uint8Array(10), new Uint8Array(3)]);
    assert.throws(() => decodeLeaves(tile.subarray(0, tile.length - 1)), TreeIntegrityError);
    assert.throws(() => decodeLeaves(tile.subarray(0, 2)), TreeIntegrityError);
    assert.throws(() => prefixBytes(tile, 3), TreeIntegrityError);
  });
});
