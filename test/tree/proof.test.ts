import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '../../src/hex.js';
import { interiorHash, leafHash } from '../../src/tree/hash.js';
import { consistencyProof, inclusionProof, rootHash, subtreeHash, type NodeReader } from '../../src/tree/proof.js';
import { verifyConsistency, verifyInclusion } from '../../src/tree/verify.js';
import type { Hash } from '../../src/types.js';
import {
  flipped,
  leavesOf,
  memoryReader,
  prefixTrees,
  RFC_CONSISTENCY,
  RFC_INCLUSION,
  RFC_LEAVES,
  RFC_ROOTS,
} from './helpers.js';

const hex = (path: readonly Hash[]): string[] => path.map(toHex);

describe('proof generation', () => {
  const rfc = memoryReader(RFC_LEAVES);

  it('reproduces the published roots, inclusion and consistency proofs', () => {
    for (let n = 0; n <= 8; n++) assert.equal(toHex(rootHash(rfc, n)), toHex(RFC_ROOTS[n] as Hash));
    for (const v of RFC_INCLUSION) assert.deepEqual(hex(inclusionProof(rfc, v.index, v.size)), hex(v.path));
    for (const v of RFC_CONSISTENCY) assert.deepEqual(hex(consistencyProof(rfc, v.oldSize, v.newSize)), hex(v.path));
  });

  it('matches roots recomputed from scratch, and its proofs verify, for every size up to 100', () => {
    const { leaves, reader, roots } = prefixTrees(100);
    for (let n = 0; n <= 100; n++) {
      assert.equal(toHex(rootHash(reader, n)), toHex(roots[n] as Hash), `root ${n}`);
      for (let i = 0; i < n; i++) {
        assert.ok(verifyInclusion(leafHash(leaves[i] as Uint8Array), i, n, inclusionProof(reader, i, n), roots[n] as Hash));
      }
      for (let m = 0; m <= n; m++) {
        assert.ok(verifyConsistency(m, n, roots[m] as Hash, roots[n] as Hash, consistencyProof(reader, m, n)));
      }
    }
  });

  it('reads only O(log n) stored nodes per proof', () => {
    const leaves = leavesOf(0, 1000);
    const inner = memoryReader(leaves);
    let reads = 0;
    const counting: NodeReader = {
      node(level, index) {
        reads++;
        return inner.node(level, index);
      },
    };
    for (const [a, b] of [
      [0, 1000],
      [511, 1000],
      [999, 1000],
      [700, 999],
    ] as Array<[number, number]>) {
      reads = 0;
      inclusionProof(counting, a, b);
      assert.ok(reads <= 2 * 10, `inclusion ${a}/${b}: ${reads} reads`);
      reads = 0;
      consistencyProof(counting, a + 1, b);
      assert.ok(reads <= 2 * 10 + 2, `consistency ${a + 1} → ${b}: ${reads} reads`);
    }
  });

  it('computes exactly with sizes beyond 2^32, up to 2^53-1', () => {
    // A tree whose leaves are all equal has one hash per level, so trees of
    // any size are cheap to read and their roots are still exact RFC 6962 roots.
    const levels: Hash[] = [leafHash(new Uint8Array([7]))];
    for (let l = 1; l <= 53; l++) levels.push(interiorHash(levels[l - 1] as Hash, levels[l - 1] as Hash));
    const uniform: NodeReader = { node: (level) => levels[level] as Hash };
    const leaf = levels[0] as Hash;
    for (const size of [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 40 + 3, 2 ** 52 + 1, 2 ** 53 - 1]) {
      const root = rootHash(uniform, size);
      for (const index of [0, 2 ** 31, 2 ** 32 - 1, size - 2, size - 1]) {
        if (index >= size) continue;
        const path = inclusionProof(uniform, index, size);
        assert.ok(verifyInclusion(leaf, index, size, path, root), `inclusion ${index}/${size}`);
        assert.equal(verifyInclusion(leaf, index, size, path, flipped(root, 0)), false);
      }
      for (const oldSize of [1, 3, 2 ** 32 - 1, 2 ** 32 + 1, size - 1]) {
        if (oldSize >= size) continue;
        const path = consistencyProof(uniform, oldSize, size);
        assert.ok(verifyConsistency(oldSize, size, rootHash(uniform, oldSize), root, path), `consistency ${oldSize} → ${size}`);
        assert.equal(verifyConsistency(oldSize, size, rootHash(uniform, oldSize), flipped(root, 31), path), false);
      }
    }
  });

  it('rejects arguments outside the tree', () => {
    assert.throws(() => inclusionProof(rfc, 8, 8), RangeError);
    assert.throws(() => inclusionProof(rfc, 0, 0), RangeError);
    assert.throws(() => inclusionProof(rfc, -1, 3), RangeError);
    assert.throws(() => consistencyProof(rfc, 5, 4), RangeError);
    assert.throws(() => consistencyProof(rfc, 1.5, 4), RangeError);
    assert.throws(() => rootHash(rfc, -1), RangeError);
    assert.throws(() => subtreeHash(rfc, 1, 3), RangeError, '[1, 3) is not an RFC 6962 subtree');
    assert.throws(() => subtreeHash(rfc, 3, 3), RangeError);
  });
});
