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

/** The largest power of two strictly less than n; requires n ≥ 2 (the RFC 6962 split point k). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** floor(n / 2^level) for 0 ≤ n ≤ 2^53-1, exact. */
export function shiftDown(n: number, level: number): number {
  return Math.floor(n / 2 ** level);
}
