// A bounded LRU of hash-tile blobs. Sound because tiles only grow by
// appending (a cached blob is always a prefix of the stored tile, so any hash
// inside it is current); the store clears the cache whenever tiles may have
// shrunk: truncate, a failed write transaction, another connection's commit.

export class TileCache {
  private readonly tiles = new Map<number, Buffer>();

  /** capacity in tiles (a full tile is 16 KiB): memory stays bounded whatever the tree size. */
  constructor(private readonly capacity: number) {}

  /** The cached blob if it holds at least minBytes, refreshing its recency. */
  get(id: number, minBytes: number): Buffer | undefined {
    const tile = this.tiles.get(id);
    if (tile === undefined || tile.length < minBytes) return undefined;
    this.tiles.delete(id);
    this.tiles.set(id, tile);
    return tile;
  }

  set(id: number, tile: Buffer): void {
    this.tiles.delete(id);
    this.tiles.set(id, tile);
    if (this.tiles.size > this.capacity) {
      const oldest = this.tiles.keys().next().value as number;
      this.tiles.delete(oldest);
    }
  }

  clear(): void {
    this.tiles.clear();
  }
}
