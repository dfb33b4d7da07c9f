// Proof generation over stored hashes of complete subtrees (RFC 9162 §2.1.3.1
// and §2.1.4.1). Pure: the hashes come through a NodeReader, so the algorithms
// run the same over SQLite tiles or an in-memory array in tests. Every function
// reads O(log n) nodes and hashes O(log n) times; nothing recomputes leaves.
import { emptyRoot, interiorHash } from './hash.js';
import { isTreeSize } from './sizes.js';
import type { Hash } from '../types.js';

/**
 * Optional memory for hashes of subtrees that are not one stored node (the
 * ragged right edge of a tree): every proof at one tree size needs the same
 * few, and each costs up to log n hashes to compose. Entries never go stale
 * while the tree only grows; a memo must be cleared when it is truncated.
 */
export interface SubtreeMemo {
  get(lo: number, hi: number): Hash | undefined;
  set(lo: number, hi: number, hash: Hash): void;
}

/**
 * Read access to the hashes of complete subtrees. Node (level, index) covers
 * leaves [index·2^level, (index+1)·2^level); callers only ask for nodes that
 * lie entirely inside the tree they hold (0 ≤ level ≤ 53, index ≥ 0).
 */
export interface NodeReader {
  node(level: number, index: number): Hash;
  readonly memo?: SubtreeMemo;
}

/**
 * MTH(D[lo:hi]) for a subtree as it occurs in RFC 6962's recursion: lo is a
 * multiple of a power of two ≥ hi - lo (true of every split the RFC makes and
 * of [0, n)). Reads one stored node per set bit of hi - lo: the maximal
 * complete subtrees from the left, folded right-to-left.
 */
export function subtreeHash(reader: NodeReader, lo: number, hi: number): Hash {
  const n = hi - lo;
  if (!isTreeSize(lo) || !isTreeSize(hi) || n < 1) throw new RangeError(`invalid subtree [${lo}, ${hi})`);
  let top = 1; // largest power of two ≤ n
  let level = 0;
  while (top * 2 <= n) {
    top *= 2;
    level++;
  }
  if (top === n) {
    if (lo % n !== 0) throw new RangeError(`subtree [${lo}, ${hi}) is not an RFC 6962 subtree`);
    return reader.node(level, lo / n);
  }
  const remembered = reader.memo?.get(lo, hi);
  if (remembered !== undefined) return remembered;
  const pieces: Hash[] = [];
  let start = lo;
  for (let width = top; width >= 1; width /= 2, level--) {
    if (start + width > hi) continue;
    if (start % width !== 0) throw new RangeError(`subtree [${lo}, ${hi}) is not an RFC 6962 subtree`);
    pieces.push(reader.node(level, start / width));
    start += width;
  }
  let h = pieces[pieces.length - 1] as Hash;
  for (let i = pieces.length - 2; i >= 0; i--) h = interiorHash(pieces[i] as Hash, h);
  reader.memo?.set(lo, hi, h);
  return h;
}

/** MTH(D[0:size]); the empty tree's root for size 0. */
export function rootHash(reader: NodeReader, size: number): Hash {
  if (!isTreeSize(size)) throw new RangeError(`invalid tree size ${size}`);
  return size === 0 ? emptyRoot() : subtreeHash(reader, 0, size);
}

/**
 * PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf-side sibling first.
 * Requires 0 ≤ index < size; the path for size 1 is empty.
 */
export function inclusionProof(reader: NodeReader, index: number, size: number): Hash[] {
  if (!isTreeSize(size) || !isTreeSize(index) || index >= size) {
    throw new RangeError(`no inclusion proof for index ${index} in tree size ${size}`);
  }
  // Walk down from the root; each step's sibling is the next hash from the top.
  const path: Hash[] = [];
  const split = new Splitter(size);
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = split.below(hi - lo);
    if (index < lo + k) {
      path.push(subtreeHash(reader, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(reader.node(split.level, lo / k)); // a complete, aligned subtree
      lo += k;
    }
  }
  return path.reverse();
}

/**
 * The RFC's split point k (largest power of two below n) for a sequence of
 * shrinking n, found by walking down from the previous one: O(log n) in
 * total per proof instead of per step.
 */
class Splitter {
  private k: number;
  level: number;

  constructor(size: number) {
    this.k = 1;
    this.level = 0;
    while (this.k * 2 < size) {
      this.k *= 2;
      this.level++;
    }
  }

  /** k for n ≥ 2, where n is at most the previous call's n. */
  below(n: number): number {
    while (this.k >= n) {
      this.k /= 2;
      this.level--;
    }
    return this.k;
  }
}

/**
 * PROOF(oldSize, D[0:newSize]) (RFC 9162 §2.1.4.1). Requires
 * 0 ≤ oldSize ≤ newSize; the proof is empty when oldSize is 0 or equal to
 * newSize (those cases need no proof; see verifyConsistency).
 */
export function consistencyProof(reader: NodeReader, oldSize: number, newSize: number): Hash[] {
  if (!isTreeSize(oldSize) || !isTreeSize(newSize) || oldSize > newSize) {
    throw new RangeError(`no consistency proof from size ${oldSize} to ${newSize}`);
  }
  if (oldSize === 0 || oldSize === newSize) return [];
  // SUBPROOF(m, D[lo:hi], b), unrolled: each step appends the sibling that the
  // recursion would emit after its recursive part, so reverse at the end.
  const path: Hash[] = [];
  const split = new Splitter(newSize);
  let lo = 0;
  let hi = newSize;
  let m = oldSize;
  let wholeOldTree = true; // the RFC's b: the old tree's root is known to the verifier
  for (;;) {
    const n = hi - lo;
    if (m === n) {
      if (!wholeOldTree) path.push(subtreeHash(reader, lo, hi));
      break;
    }
    const k = split.below(n);
    if (m <= k) {
      path.push(subtreeHash(reader, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(reader.node(split.level, lo / k)); // a complete, aligned subtree
      lo += k;
      m -= k;
      wholeOldTree = false;
    }
  }
  return path.reverse();
}
