import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '../../src/crypto/index.js';
import { concatBytes, toHex } from '../../src/hex.js';
import { emptyRoot, interiorHash, leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import type { Hash } from '../../src/types.js';
import { RFC_LEAVES, RFC_NODES, RFC_ROOTS } from './helpers.js';

describe('RFC 6962 hashing', () => {
  it('hashes the empty tree as SHA-256 of the empty string', () => {
    assert.equal(toHex(emptyRoot()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const a = emptyRoot();
    a[0] = 0;
    assert.notEqual(emptyRoot()[0], 0, 'emptyRoot returns a copy');
  });

  it('reproduces the published leaf and interior node hashes', () => {
    RFC_LEAVES.forEach((leaf, i) => assert.equal(toHex(leafHash(leaf)), toHex(RFC_NODES[0]?.[i] as Hash)));
    for (let level = 1; level < RFC_NODES.length; level++) {
      const below = RFC_NODES[level - 1] as Hash[];
      (RFC_NODES[level] as Hash[]).forEach((node, i) => {
        assert.equal(toHex(interiorHash(below[2 * i] as Hash, below[2 * i + 1] as Hash)), toHex(node));
      });
    }
  });

  it('reproduces the published roots of every prefix of the 8-leaf tree', () => {
    const hashes = RFC_LEAVES.map(leafHash);
    for (let n = 0; n <= 8; n++) assert.equal(toHex(rootFromLeafHashes(hashes.slice(0, n))), toHex(RFC_ROOTS[n] as Hash));
  });

  it('matches the definition with explicit prefixes, for any leaf length', () => {
    for (const len of [0, 1, 31, 32, 64, 128, 255, 256, 257, 5000]) {
      const leaf = new Uint8Array(len).map((_, i) => (i * 7 + len) & 0xff);
      assert.equal(toHex(leafHash(leaf)), toHex(sha256(concatBytes(new Uint8Array([0]), leaf))));
    }
    const l = leafHash(new Uint8Array([1]));
    const r = leafHash(new Uint8Array([2]));
    assert.equal(toHex(interiorHash(l, r)), toHex(sha256(concatBytes(new Uint8Array([1]), l, r))));
  });

  it('returns independent plain Uint8Arrays (no shared scratch)', () => {
    const a = leafHash(new Uint8Array([1]));
    const b = leafHash(new Uint8Array([2]));
    assert.notEqual(toHex(a), toHex(b));
    assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
    assert.deepEqual(a, sha256(new Uint8Array([0, 1])));
  });
});
