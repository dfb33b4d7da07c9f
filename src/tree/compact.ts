// The right edge of a tree (a "compact range" over [0, size)): the hashes of
// the maximal complete subtrees, one per set bit of size. Appending a leaf
// merges equal-height subtrees, completing one node per trailing 1 bit of the
// leaf's index; those are exactly the hashes the store must save, reported in
// the stored-hash order that tiles use. Works on HashText: it is the append
// path's inner loop.
import { emptyRoot, interiorHashText, textToHash, type HashText } from './hash.js';
import { isTreeSize, pow2 } from './sizes.js';
import type { Hash } from '../types.js';

export type NodeSink = (level: number, index: number, hash: HashText) => void;

/** Levels of the set bits of size, highest first: the edge's subtree heights. */
export function edgeLevels(size: number): number[] {
  const levels: number[] = [];
  for (let level = 53; level >= 0; level--) {
    if (Math.floor(size / pow2(level)) % 2 === 1) levels.push(level);
  }
  return levels;
}

export class RightEdge {
  private readonly hashes: HashText[];
  private next: number;

  /**
   * Starts from a tree of `size` leaves whose edge subtrees (heights
   * edgeLevels(size), left to right) have the given hashes.
   */
  constructor(size: number, edge: readonly HashText[]) {
    if (!isTreeSize(size) || edge.length !== edgeLevels(size).length) {
      throw new RangeError(`right edge of size ${size} needs ${edgeLevels(size).length} hashes, got ${edge.length}`);
    }
    this.hashes = [...edge];
    this.next = size;
  }

  get size(): number {
    return this.next;
  }

  /** Appends a leaf; reports the leaf node and every node it completes, bottom-up. */
  push(leafHash: HashText, sink: NodeSink): void {
    let index = this.next;
    let level = 0;
    let hash = leafHash;
    sink(level, index, hash);
    while (index % 2 === 1) {
      hash = interiorHashText(this.hashes.pop() as HashText, hash);
      index = (index - 1) / 2;
      level++;
      sink(level, index, hash);
    }
    this.hashes.push(hash);
    this.next++;
  }

  /** MTH of the tree so far. */
  root(): Hash {
    if (this.hashes.length === 0) return emptyRoot();
    let root = this.hashes[this.hashes.length - 1] as HashText;
    for (let i = this.hashes.length - 2; i >= 0; i--) root = interiorHashText(this.hashes[i] as HashText, root);
    return textToHash(root);
  }
}
