// Tree sizes and leaf indices are plain JS numbers. They are exact integers up
// to 2^53-1, which no log will reach; JS bitwise operators truncate to 32 bits,
// so all arithmetic on sizes here uses division and multiplication by powers
// of two instead.

/** Largest valid tree size (and one more than the largest valid leaf index): 2^53-1. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

/** True for an integer n with 0 ≤ n ≤ 2^53-1. */
export function isTreeSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

const POWERS_OF_TWO = Float64Array.from({ length: 64 }, (_, i) => 2 ** i);

/** 2^k for integers 0 ≤ k ≤ 63: a table read, since Math.pow is measurable on hot paths. */
export function pow2(k: number): number {
  return POWERS_OF_TWO[k] as number;
}
