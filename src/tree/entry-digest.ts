/**
 * Order-independent digest of (h6, idx) entries: lets verifyIntegrity compare
 * the disk level of the leaf-hash index (in h6 order) with the leaves (in
 * index order) in one pass over each, without holding either in memory. Sum
 * and xor of two 32-bit mixes: it catches corruption, not a forger.
 */
export class EntryDigest {
  count = 0;
  private sum = 0;
  private xor = 0;

  add(h6: number, index: number): void {
    const x = mix(h6, index);
    this.sum = (this.sum + x) % 0x100000000;
    this.xor = (this.xor ^ Math.imul(x, 0x2c1b3c6d)) >>> 0;
    this.count++;
  }

  /** Undoes add(h6, index) (the digest is a sum and an xor, both invertible). */
  remove(h6: number, index: number): void {
    const x = mix(h6, index);
    this.sum = (this.sum - x + 0x100000000) % 0x100000000;
    this.xor = (this.xor ^ Math.imul(x, 0x2c1b3c6d)) >>> 0;
    this.count--;
  }

  equals(other: EntryDigest): boolean {
    return this.count === other.count && this.sum === other.sum && this.xor === other.xor;
  }
}

function mix(h6: number, index: number): number {
  let x = Math.imul((h6 % 0x1000000) ^ 0x27d4eb2d, 0x85ebca6b);
  x ^= Math.imul(Math.floor(h6 / 0x1000000) + 0x165667b1, 0xc2b2ae35);
  x ^= Math.imul((index % 0x40000000) + 0x3c6ef372, 0x9e3779b1);
  x ^= Math.imul(Math.floor(index / 0x40000000) + 0x61c88647, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
