// A bounded cache of hash-tile blobs. Sound because tiles only grow by
// appending (a cached blob is always a prefix of the stored tile, so any hash
// inside it is current); the store clears it whenever tiles may have shrunk:
// truncate, a failed write transaction, another connection's commit.
//
// Two classes share one capacity. Bottom tiles (tile level 0) are one per 64
// leaves: a random proof or lookup misses on one of them whatever the cache
// size once the tree has a few million leaves. Upper tiles are 64 times
// fewer and every proof reads one per tile level, so they get the room:
// bottom tiles keep at least `bottomReserve` places (the right edge and what
// appends touch) and whatever upper tiles leave free. Without that, at 10M
// leaves the 2,441 level-1 tiles were flushed by level-0 misses from a FIFO
// of 2,048 and a random proof read two tiles instead of one. Each class is
// evicted in insertion order (FIFO: a hit is a single Map lookup).

class IdRing {
  private readonly ids: Float64Array;
  private head = 0;
  count = 0;

  constructor(capacity: number) {
    this.ids = new Float64Array(capacity);
  }

  push(id: number): void {
    this.ids[(this.head + this.count) % this.ids.length] = id;
    this.count++;
  }

  shift(): number {
    const id = this.ids[this.head] as number;
    this.head = (this.head + 1) % this.ids.length;
    this.count--;
    return id;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}

export class TileCache {
  private readonly tiles = new Map<number, Buffer>();
  private readonly bottom: IdRing;
  private readonly upper: IdRing;
  private readonly bottomReserve: number;

  /**
   * capacity in tiles (a full tile is 4 KiB): memory stays bounded whatever
   * the tree size. isBottom tells a tile-level-0 id; without it every tile is
   * treated alike (one FIFO).
   */
  constructor(
    private readonly capacity: number,
    private readonly isBottom: (id: number) => boolean = () => true,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`invalid tile cache capacity ${capacity}`);
    this.bottom = new IdRing(capacity);
    this.upper = new IdRing(capacity);
    this.bottomReserve = Math.min(capacity, Math.max(1, Math.floor(capacity / 8)));
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
    const bottom = this.isBottom(id);
    if (this.tiles.size >= this.capacity) {
      // Full: an upper tile displaces a bottom one beyond the reserve, a
      // bottom tile an upper one only while bottom tiles are below it.
      const fromBottom = bottom
        ? !(this.bottom.count < this.bottomReserve && this.upper.count > 0)
        : this.bottom.count > this.bottomReserve || this.upper.count === 0;
      this.tiles.delete((fromBottom ? this.bottom : this.upper).shift());
    }
    (bottom ? this.bottom : this.upper).push(id);
    this.tiles.set(id, tile);
  }

  clear(): void {
    this.tiles.clear();
    this.bottom.clear();
    this.upper.clear();
  }
}
