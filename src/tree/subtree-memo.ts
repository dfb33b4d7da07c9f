// A bounded memo of ragged-subtree hashes for proofs (see SubtreeMemo in proof.ts).
import type { SubtreeMemo } from './proof.js';
import type { Hash } from '../types.js';

function copyHash(bytes: Uint8Array): Hash {
  return new Uint8Array(bytes) as Hash;
}

/**
 * Hashes of ragged subtrees [lo, hi) (see SubtreeMemo), bounded. Ragged
 * subtrees end at a tree size, so entries are grouped by hi; numbers as keys
 * avoid building strings on the proof path. Copies in and out, since callers
 * may modify the hashes they are given.
 */
export class SubtreeMemoMap implements SubtreeMemo {
  private readonly byEnd = new Map<number, Map<number, Hash>>();
  private entries = 0;

  constructor(private readonly capacity: number) {}

  get(lo: number, hi: number): Hash | undefined {
    const h = this.byEnd.get(hi)?.get(lo);
    return h === undefined ? undefined : copyHash(h);
  }

  set(lo: number, hi: number, hash: Hash): void {
    if (this.entries >= this.capacity) this.clear();
    let starts = this.byEnd.get(hi);
    if (starts === undefined) this.byEnd.set(hi, (starts = new Map()));
    if (!starts.has(lo)) this.entries++;
    starts.set(lo, copyHash(hash));
  }

  clear(): void {
    this.byEnd.clear();
    this.entries = 0;
  }
}
