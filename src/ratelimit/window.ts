// Sliding-window event counts per key, with hour granularity. Each key keeps
// at most WINDOW_BUCKETS small counters, and keys whose counters have all
// expired are dropped, so memory follows the number of keys active in the
// last day rather than the total ever seen.

export const HOUR_MS = 60 * 60 * 1000;
/**
 * Buckets that count toward the window: the current hour and the 24 before
 * it. An event therefore stays counted for at least 24 h (between 24 and
 * 25 h), so a limit of N never lets more than N through in any 24 h span.
 */
export const WINDOW_BUCKETS = 25;

interface Bucket {
  hour: number;
  count: number;
}

export class SlidingWindowCounter {
  private readonly counts = new Map<string, Bucket[]>();
  private lastSweepHour = -Infinity;

  constructor(private readonly now: () => number) {}

  /** Events for key within the window. */
  count(key: string): number {
    const hour = this.currentHour();
    const buckets = this.live(key, hour);
    let total = 0;
    for (const b of buckets ?? []) total += b.count;
    return total;
  }

  /** Records one event now; returns the hour it was charged to, for undo. */
  add(key: string): number {
    const hour = this.currentHour();
    let buckets = this.live(key, hour);
    if (buckets === undefined) {
      buckets = [];
      this.counts.set(key, buckets);
    }
    // Searching all (at most WINDOW_BUCKETS, or a few more after a clock
    // step back) rather than only the last keeps one bucket per hour.
    const existing = buckets.find((b) => b.hour === hour);
    if (existing !== undefined) existing.count++;
    else buckets.push({ hour, count: 1 });
    return hour;
  }

  /** Undoes one add() charged to the given hour; a no-op once that hour has expired. */
  remove(key: string, hour: number): void {
    const buckets = this.counts.get(key);
    if (buckets === undefined) return;
    const i = buckets.findIndex((b) => b.hour === hour);
    if (i < 0) return;
    const b = buckets[i]!;
    if (--b.count === 0) buckets.splice(i, 1);
    if (buckets.length === 0) this.counts.delete(key);
  }

  /** Number of keys holding counters (for tests and metrics). */
  get size(): number {
    return this.counts.size;
  }

  private currentHour(): number {
    const hour = Math.floor(this.now() / HOUR_MS);
    // Keys that are never touched again would otherwise linger; sweeping at
    // most once an hour keeps that cost proportional to real traffic.
    if (hour > this.lastSweepHour) {
      this.lastSweepHour = hour;
      for (const key of [...this.counts.keys()]) this.live(key, hour);
    }
    return hour;
  }

  /** The key's unexpired buckets, after dropping expired ones (and the key, if none remain). */
  private live(key: string, hour: number): Bucket[] | undefined {
    const buckets = this.counts.get(key);
    if (buckets === undefined) return undefined;
    // Buckets from "future" hours (the clock stepped back) are kept and
    // counted rather than letting a clock step erase recorded usage.
    const oldest = hour - WINDOW_BUCKETS + 1;
    const kept = buckets.filter((b) => b.hour >= oldest);
    if (kept.length === 0) {
      this.counts.delete(key);
      return undefined;
    }
    if (kept.length === buckets.length) return buckets;
    this.counts.set(key, kept);
    return kept;
  }
}
