import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyRoot, leafHash } from '../../src/tree/hash.js';
import { consistencyProof, inclusionProof } from '../../src/tree/proof.js';
import { verifyConsistency, verifyInclusion } from '../../src/tree/verify.js';
import type { Hash } from '../../src/types.js';
import { flipped, prefixTrees, RFC_CONSISTENCY, RFC_INCLUSION, RFC_LEAVES, RFC_ROOTS } from './helpers.js';

const SOME_HASH = flipped(emptyRoot(), 5);

function root(n: number): Hash {
  return RFC_ROOTS[n] as Hash;
}

/** Every way of damaging a valid inclusion proof that must be rejected. */
function assertInclusionTamperFails(leaf: Hash, index: number, size: number, path: Hash[], r: Hash, everyByte: boolean): void {
  const bad = (desc: string, ok: boolean): void => assert.equal(ok, false, `${desc} (index ${index}, size ${size})`);
  bad('index - 1', verifyInclusion(leaf, index - 1, size, path, r));
  bad('index + 1', verifyInclusion(leaf, index + 1, size, path, r));
  bad('index = size', verifyInclusion(leaf, size, size, path, r));
  bad('wrong leaf', verifyInclusion(SOME_HASH, index, size, path, r));
  bad('empty root', verifyInclusion(leaf, index, size, path, emptyRoot()));
  bad('trailing root', verifyInclusion(leaf, index, size, [...path, r], r));
  bad('trailing garbage', verifyInclusion(leaf, index, size, [...path, SOME_HASH], r));
  bad('preceding root', verifyInclusion(leaf, index, size, [r, ...path], r));
  bad('short element', verifyInclusion(leaf, index, size, [...path, new Uint8Array(31) as Hash], r));
  if (path.length > 0) bad('truncated', verifyInclusion(leaf, index, size, path.slice(0, -1), r));
  if (path.length > 0) bad('first dropped', verifyInclusion(leaf, index, size, path.slice(1), r));
  if (path.length > 1) bad('inserted', verifyInclusion(leaf, index, size, [path[0] as Hash, SOME_HASH, ...path.slice(1)], r));
  for (let at = 0; at < 32; at++) {
    if (!everyByte && at !== (index * 7 + size) % 32) continue;
    bad(`root byte ${at}`, verifyInclusion(leaf, index, size, path, flipped(r, at)));
    bad(`leaf byte ${at}`, verifyInclusion(flipped(leaf, at), index, size, path, r));
    path.forEach((_, k) => {
      const damaged = path.map((p, j) => (j === k ? flipped(p, at) : p));
      bad(`path[${k}] byte ${at}`, verifyInclusion(leaf, index, size, damaged, r));
    });
  }
}

function assertConsistencyTamperFails(m: number, n: number, r1: Hash, r2: Hash, path: Hash[], everyByte: boolean): void {
  const bad = (desc: string, ok: boolean): void => assert.equal(ok, false, `${desc} (${m} → ${n})`);
  bad('swapped roots', verifyConsistency(m, n, r2, r1, path));
  bad('empty proof', verifyConsistency(m, n, r1, r2, []));
  bad('trailing old root', verifyConsistency(m, n, r1, r2, [...path, r1]));
  bad('trailing new root', verifyConsistency(m, n, r1, r2, [...path, r2]));
  bad('preceding old root', verifyConsistency(m, n, r1, r2, [r1, ...path]));
  bad('preceding path[0]', verifyConsistency(m, n, r1, r2, [path[0] as Hash, ...path]));
  bad('truncated', verifyConsistency(m, n, r1, r2, path.slice(0, -1)));
  bad('short element', verifyConsistency(m, n, r1, r2, [...path.slice(0, -1), new Uint8Array(31) as Hash]));
  bad('old > new', verifyConsistency(n, m, r2, r1, path));
  for (let at = 0; at < 32; at++) {
    if (!everyByte && at !== (m * 5 + n) % 32) continue;
    bad(`old root byte ${at}`, verifyConsistency(m, n, flipped(r1, at), r2, path));
    bad(`new root byte ${at}`, verifyConsistency(m, n, r1, flipped(r2, at), path));
    path.forEach((_, k) => {
      const damaged = path.map((p, j) => (j === k ? flipped(p, at) : p));
      bad(`path[${k}] byte ${at}`, verifyConsistency(m, n, r1, r2, damaged));
    });
  }
}

describe('verifyInclusion', () => {
  it('accepts the published vectors and rejects every tampered variant', () => {
    for (const v of RFC_INCLUSION) {
      const leaf = leafHash(RFC_LEAVES[v.index] as Uint8Array);
      assert.ok(verifyInclusion(leaf, v.index, v.size, v.path, root(v.size)), `vector ${v.index}/${v.size}`);
      assertInclusionTamperFails(leaf, v.index, v.size, v.path, root(v.size), true);
      if (v.size > 1) {
        assert.equal(verifyInclusion(leaf, v.index, v.size * 2, v.path, root(v.size)), false, 'size * 2');
        assert.equal(verifyInclusion(leaf, v.index, Math.floor(v.size / 2), v.path, root(v.size)), false, 'size / 2');
      }
    }
  });

  it('needs an empty path and root = leaf hash for size 1', () => {
    const leaf = leafHash(new TextEncoder().encode('data'));
    assert.ok(verifyInclusion(leaf, 0, 1, [], leaf));
    assert.equal(verifyInclusion(leaf, 0, 1, [], SOME_HASH), false);
    assert.equal(verifyInclusion(leaf, 0, 1, [leaf], leaf), false);
  });

  it('rejects out-of-range and non-integer arguments without throwing', () => {
    const e = emptyRoot();
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [2, 1],
      [-1, 1],
      [0.5, 2],
      [0, 2 ** 53],
      [Number.NaN, 3],
      [0, Number.POSITIVE_INFINITY],
    ] as Array<[number, number]>) {
      assert.equal(verifyInclusion(e, index, size, [], e), false, `${index}/${size}`);
    }
    assert.equal(verifyInclusion(new Uint8Array(0) as Hash, 0, 1, [], new Uint8Array(0) as Hash), false);
  });
});

describe('verifyConsistency', () => {
  it('accepts the published vectors and rejects every tampered variant', () => {
    for (const v of RFC_CONSISTENCY) {
      const r1 = root(v.oldSize);
      const r2 = root(v.newSize);
      assert.ok(verifyConsistency(v.oldSize, v.newSize, r1, r2, v.path), `vector ${v.oldSize} → ${v.newSize}`);
      if (v.path.length === 0) continue;
      assertConsistencyTamperFails(v.oldSize, v.newSize, r1, r2, v.path, true);
      for (const [m, n] of [
        [v.oldSize - 1, v.newSize],
        [v.oldSize + 1, v.newSize],
        [v.oldSize, v.newSize * 2],
        [v.oldSize, Math.floor(v.newSize / 2)],
      ] as Array<[number, number]>) {
        assert.equal(verifyConsistency(m, n, r1, r2, v.path), false, `sizes ${m} → ${n}`);
      }
    }
  });

  it('decides the edge cases as documented', () => {
    const a = RFC_ROOTS[3] as Hash;
    const b = RFC_ROOTS[5] as Hash;
    const e = emptyRoot();
    // Equal sizes: valid iff the roots are equal and the path is empty.
    assert.ok(verifyConsistency(0, 0, e, e, []));
    assert.ok(verifyConsistency(3, 3, a, a, []));
    assert.equal(verifyConsistency(3, 3, a, b, []), false);
    assert.equal(verifyConsistency(3, 3, a, a, [a]), false);
    assert.equal(verifyConsistency(0, 0, e, e, [e]), false);
    // From the empty tree: valid iff the path is empty and the old root is the empty root.
    assert.ok(verifyConsistency(0, 5, e, b, []));
    assert.equal(verifyConsistency(0, 5, a, b, []), false);
    assert.equal(verifyConsistency(0, 5, e, b, [e]), false);
    // Shrinking, non-empty trees without a proof, malformed numbers.
    assert.equal(verifyConsistency(5, 3, b, a, []), false);
    assert.equal(verifyConsistency(3, 5, a, b, []), false);
    assert.equal(verifyConsistency(-1, 5, a, b, []), false);
    assert.equal(verifyConsistency(1.5, 5, a, b, [a]), false);
    assert.equal(verifyConsistency(3, 2 ** 53, a, b, [a]), false);
    assert.equal(verifyConsistency(3, 3, new Uint8Array(3) as Hash, new Uint8Array(3) as Hash, []), false);
  });
});

describe('proofs for every tree up to 100 leaves', () => {
  const { leaves, reader, roots } = prefixTrees(100);
  const hashes = leaves.map(leafHash);

  it('every inclusion proof verifies, and no damaged one or other tree head does', () => {
    for (let n = 1; n <= 100; n++) {
      for (let i = 0; i < n; i++) {
        const path = inclusionProof(reader, i, n);
        const leaf = hashes[i] as Hash;
        assert.ok(verifyInclusion(leaf, i, n, path, roots[n] as Hash), `${i}/${n}`);
        assertInclusionTamperFails(leaf, i, n, path, roots[n] as Hash, n <= 12);
        // A proof for one tree head never verifies against a different one,
        // unless it is that head's proof too.
        for (const other of [n - 1, n + 1, 2 * n, Math.floor(n / 2)]) {
          if (other <= i || other > 100 || other === n) continue;
          const ok = verifyInclusion(leaf, i, other, path, roots[other] as Hash);
          assert.equal(ok, false, `proof ${i}/${n} against size ${other}`);
        }
      }
    }
  });

  it('every consistency proof verifies, and no damaged one or other pair does', () => {
    for (let n = 0; n <= 100; n++) {
      for (let m = 0; m <= n; m++) {
        const path = consistencyProof(reader, m, n);
        assert.ok(verifyConsistency(m, n, roots[m] as Hash, roots[n] as Hash, path), `${m} → ${n}`);
        if (path.length === 0) {
          assert.ok(m === 0 || m === n, `empty proof only for trivial pairs (${m} → ${n})`);
          continue;
        }
        assertConsistencyTamperFails(m, n, roots[m] as Hash, roots[n] as Hash, path, n <= 12);
        for (const [m2, n2] of [
          [m - 1, n],
          [m + 1, n],
          [m, n + 1],
          [m, n - 1],
        ] as Array<[number, number]>) {
          if (m2 < 1 || n2 > 100 || m2 >= n2) continue;
          const ok = verifyConsistency(m2, n2, roots[m2] as Hash, roots[n2] as Hash, path);
          assert.equal(ok, false, `proof ${m} → ${n} against ${m2} → ${n2}`);
        }
      }
    }
  });
});
