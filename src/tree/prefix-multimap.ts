// An in-memory multimap from 48-bit hash prefixes to leaf indices: the dedup
// index's memory level. Open addressing in two typed arrays, so a level of
// 100k+ entries costs a few MB and no per-entry objects.

// Slot spreading with a per-process seed, so that submitters who grind leaf
// hashes cannot aim many of them at one probe chain.
const SEED = (Math.random() * 0x100000000) >>> 0;
function slotOf(h6: number, mask: number): number {
  const lo = (h6 % 0x1000000) ^ SEED;
  const hi = Math.floor(h6 / 0x1000000);
  return (Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0) & mask;
}

/** Open-addressing multimap h6 → index, linear probing, no deletions (rebuilt instead). */
export class PrefixMultimap {
  private keys = new Float64Array(16); // h6 + 1; 0 marks an empty slot
  private values = new Float64Array(16);
  private used = 0;

  get count(): number {
    return this.used;
  }

  reset(expected: number): void {
    let slots = 16;
    while (slots < expected * 2) slots *= 2;
    this.keys = new Float64Array(slots);
    this.values = new Float64Array(slots);
    this.used = 0;
  }

  insert(h6: number, index: number): void {
    if ((this.used + 1) * 2 > this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    let slot = slotOf(h6, mask);
    while (this.keys[slot] !== 0) slot = (slot + 1) & mask;
    this.keys[slot] = h6 + 1;
    this.values[slot] = index;
    this.used++;
  }

  /** Calls visit for every index stored under h6. */
  forEach(h6: number, visit: (index: number) => void): void {
    const mask = this.keys.length - 1;
    const key = h6 + 1;
    for (let slot = slotOf(h6, mask); this.keys[slot] !== 0; slot = (slot + 1) & mask) {
      if (this.keys[slot] === key) visit(this.values[slot] as number);
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.values = new Float64Array(oldKeys.length * 2);
    this.used = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i] as number;
      if (k !== 0) this.insert(k - 1, oldValues[i] as number);
    }
  }
}
