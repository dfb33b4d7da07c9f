// A bounded cache of hash-tile blobs, evicting in insertion order. Sound
// because tiles only grow by appending (a cached blob is always a prefix of
// the stored tile, so any hash inside it is current); the store clears it
// whenever tiles may have shrunk: truncate, a failed write transaction, another
// connection's commit. FIFO rather than LRU: a hit is then a single Map
// lookup, and the few hot upper tiles that get evicted cost one re-read.

export class TileCache {
  private readonly tiles = new Map<number, Buffer>();
  // Insertion order as a ring of ids: evicting needs no Map iterator.
  private readonly order: number[];
  private next = 0;

  /** capacity in tiles (a full tile is 4 KiB): memory stays bounded whatever the tree size. */
  constructor(private readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`invalid tile cache capacity ${capacity}`);
    this.order = new Array<number>(capacity).fill(-1);
  }

  /** The cached blob if it holds at least minBytes. */
  get(id: number, minBytes: number): Buffer | undefined {
    const tile = this.tiles.get(id);
    return tile !== undefined && tile.length >= minBytes ? tile : undefined;
  }

  set(id: number, tile: Buffer): void {
    if (this.tiles.has(id)) {
      this.tiles.set(id, tile); // a longer version of a cached tile keeps its place
      return;
    }
    const evicted = this.order[this.next] as number;
    if (evicted !== -1) this.tiles.delete(evicted);
    this.order[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.tiles.set(id, tile);
  }

  clear(): void {
    this.tiles.clear();
    this.order.fill(-1);
    this.next = 0;
  }
}
