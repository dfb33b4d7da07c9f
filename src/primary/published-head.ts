// The primary's published tree head: what get-tree-head serves, what proofs
// and leaves are bounded by, and what turns add-leaf's 202 into 200.
import type { CosignedTreeHead } from '../formats/tree-head.js';

export class PublishedHead {
  constructor(private head: CosignedTreeHead) {}

  get current(): CosignedTreeHead {
    return this.head;
  }

  get size(): number {
    return this.head.size;
  }

  /**
   * Replaces the head. The caller has made it durable and checked it is
   * consistent with the current one; a smaller size is a bug, so it throws.
   */
  replace(next: CosignedTreeHead): void {
    if (next.size < this.head.size) {
      throw new Error(`refusing to publish size ${next.size} after size ${this.head.size}`);
    }
    this.head = next;
  }
}
