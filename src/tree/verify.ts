// Proof verification, RFC 9162 §2.1.3.2 and §2.1.4.2 (the same proofs as RFC
// 6962). Pure, and total: any malformed input (sizes out of range, wrong path
// length, hashes that are not 32 bytes) yields false, never an exception, so
// callers can feed it untrusted proofs directly.
import { emptyRoot, interiorHash } from './hash.js';
import { isTreeSize } from './sizes.js';
import { bytesEqual } from '../hex.js';
import { HASH_SIZE, type Hash } from '../types.js';

function half(n: number): number {
  return Math.floor(n / 2);
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function allHashes(hashes: readonly Uint8Array[]): boolean {
  return hashes.every((h) => h instanceof Uint8Array && h.length === HASH_SIZE);
}

/**
 * True iff path proves that the leaf with hash leafHash is at index in the
 * tree of the given size with the given root. Valid range:
 * 0 ≤ index < size ≤ 2^53-1 (anything else is false; size 0 has no leaves).
 * For size 1 the path must be empty and the root equals the leaf hash.
 */
export function verifyInclusion(leafHash: Hash, index: number, size: number, path: readonly Hash[], root: Hash): boolean {
  if (!isTreeSize(index) || !isTreeSize(size) || index >= size) return false;
  if (!allHashes([leafHash, root]) || !allHashes(path)) return false;
  // fn is the node whose hash r we hold; sn is the last node at its level.
  let fn = index;
  let sn = size - 1;
  let r: Hash = leafHash;
  for (const p of path) {
    if (sn === 0) return false; // path longer than the tree is tall
    if (isOdd(fn) || fn === sn) {
      r = interiorHash(p, r);
      // A rightmost node without a right sibling is promoted unchanged.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = interiorHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(r, root);
}

/**
 * True iff path proves that the tree of size newSize with root newRoot
 * extends the tree of size oldSize with root oldRoot.
 * Valid range: 0 ≤ oldSize ≤ newSize ≤ 2^53-1 (anything else is false).
 * Edge cases, as sigsum-go: oldSize == newSize is valid iff the path is empty
 * and the roots are equal; oldSize == 0 is valid iff the path is empty and
 * oldRoot is the empty tree's root (every tree extends the empty tree, so
 * newRoot is not checked). Otherwise the path must be non-empty.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Hash,
  newRoot: Hash,
  path: readonly Hash[],
): boolean {
  if (!isTreeSize(oldSize) || !isTreeSize(newSize) || oldSize > newSize) return false;
  if (!allHashes([oldRoot, newRoot]) || !allHashes(path)) return false;
  if (oldSize === newSize) return path.length === 0 && bytesEqual(oldRoot, newRoot);
  if (oldSize === 0) return path.length === 0 && bytesEqual(oldRoot, emptyRoot());
  if (path.length === 0) return false;

  // When the old tree is a complete subtree its root is the first node of the
  // walk and the proof omits it.
  const nodes = isPowerOfTwo(oldSize) ? [oldRoot, ...path] : path;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = nodes[0] as Hash; // old root being rebuilt
  let sr = fr; // new root being rebuilt
  for (let i = 1; i < nodes.length; i++) {
    const c = nodes[i] as Hash;
    if (sn === 0) return false; // path longer than the new tree is tall
    if (isOdd(fn) || fn === sn) {
      fr = interiorHash(c, fr);
      sr = interiorHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = interiorHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
}
