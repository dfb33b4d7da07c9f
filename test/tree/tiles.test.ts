import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RightEdge, edgeLevels } from '../../src/tree/compact.js';
import { TreeIntegrityError } from '../../src/tree/errors.js';
import { leafHashText } from '../../src/tree/hash.js';
import { leafTileFormat, LEAF_FORMAT_1, LEAF_FORMAT_2 } from '../../src/tree/leaf-tiles.js';
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

for (const format of [LEAF_FORMAT_1, LEAF_FORMAT_2]) {
  describe(`leaf tile format ${format.id}`, () => {
    const lengthBytes = (n: number): number => (format.id === 1 ? 4 : n < 0x80 ? 1 : n < 0x4000 ? 2 : 3);

    it('round-trips leaves of any length, including empty ones', () => {
      const leaves = [new Uint8Array(0), new Uint8Array([1]), new Uint8Array(127).fill(6), new Uint8Array(128).fill(7), new Uint8Array(70_000).fill(9)];
      const tile = format.encode(leaves);
      const hex = (ls: readonly Uint8Array[]): string[] => ls.map((l) => Buffer.from(l).toString('hex'));
      assert.deepEqual(hex(format.decode(tile)), hex(leaves));
      assert.equal(format.prefixBytes(tile, 0), 0);
      assert.equal(format.prefixBytes(tile, 2), lengthBytes(0) + 0 + lengthBytes(1) + 1);
      assert.equal(format.prefixBytes(tile, 5), tile.length);
      assert.equal(tile.length, leaves.reduce((n, l) => n + lengthBytes(l.length) + l.length, 0));
      assert.deepEqual(format.decode(Buffer.concat([format.encode(leaves.slice(0, 2)), format.encode(leaves.slice(2))])).length, 5);
    });

    it('rejects truncated encodings as integrity errors', () => {
      const tile = format.encode([new Uint8Array(10), new Uint8Array(300)]);
      assert.throws(() => format.decode(tile.subarray(0, tile.length - 1)), TreeIntegrityError);
      assert.throws(() => format.decode(tile.subarray(0, lengthBytes(10) + 10 + 1)), TreeIntegrityError); // inside the second length (format 2) or leaf
      assert.throws(() => format.prefixBytes(tile, 3), TreeIntegrityError);
    });

    it(`puts ${format.width} Sigsum leaves (128 bytes) in one row of at most 4,061 bytes: one 4 KiB page, no overflow page`, () => {
      const tile = format.encode(Array.from({ length: format.width }, () => new Uint8Array(128)));
      assert.ok(tile.length + 3 <= 4061, `${tile.length} bytes`); // + the record header
    });
  });
}

describe('leaf tile format 2 lengths', () => {
  it('refuses a length of more than 5 bytes or beyond 2^32-1', () => {
    assert.throws(() => LEAF_FORMAT_2.decode(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), TreeIntegrityError);
    assert.throws(() => LEAF_FORMAT_2.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])), /out of range/);
  });
  it('names an unknown format', () => {
    assert.throws(() => leafTileFormat(3), /unknown leaf tile format 3/);
    assert.equal(leafTileFormat(1), LEAF_FORMAT_1);
  });
});
