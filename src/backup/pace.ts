// Pacing of a backup's reads and writes: a byte-rate limit (like rsync
// --bwlimit) on the database copy and on the SHA-256 of the files for the
// manifest, and a synchronous sleep for the thread that does both (the backup
// worker, which may block; see backup.ts).

/**
 * Default rate limit, MiB/s, of a backup's copy and, separately, of its
 * hashing ([backup] max-rate, backup --max-rate); design.md "Backup and
 * restore" has the measurement behind it.
 */
export const DEFAULT_MAX_RATE_MIB = 16;

/** The largest max-rate accepted, MiB/s (far beyond any disk here; 0 is the way to lift the limit). */
export const MAX_RATE_MIB_LIMIT = 100_000;

/** MiB/s as bytes per second; 0 (no limit) stays 0. */
export function mibPerSecond(mib: number): number {
  return mib * 1024 * 1024;
}

/**
 * A leaky bucket holding at most one charge of credit: after `charge(bytes)`
 * the caller waits the returned milliseconds, so that n bytes charged in all
 * take at least n / bytesPerSecond seconds from the Pacer's creation, however
 * the work is split. The work's own time counts toward a charge's share (a
 * step that took as long as its bytes allow waits nothing), but time lost
 * beyond that (a slow step, a busy CPU) is not made up for by a later burst.
 */
export class Pacer {
  private due: number;

  constructor(
    /** 0: no limit. */
    readonly bytesPerSecond: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (!(bytesPerSecond >= 0) || !Number.isFinite(bytesPerSecond)) throw new RangeError(`invalid rate ${bytesPerSecond} bytes/s`);
    this.due = clock();
  }

  /** Milliseconds to wait now, having just done `bytes` more work (0 without a limit). */
  charge(bytes: number): number {
    if (this.bytesPerSecond === 0 || bytes <= 0) return 0;
    const now = this.clock();
    const share = (bytes * 1000) / this.bytesPerSecond;
    this.due = Math.max(this.due, now - share) + share;
    return Math.max(0, this.due - now);
  }
}

/**
 * Blocks the calling thread for `ms`, or until `wake[0]` becomes non-zero (and
 * someone calls Atomics.notify on it). Returns false when woken that way.
 * Only for a thread that may block: the backup worker, never the node's
 * event loop.
 */
export function sleepSync(ms: number, wake: Int32Array): boolean {
  if (Atomics.load(wake, 0) !== 0) return false;
  if (ms <= 0) return true;
  Atomics.wait(wake, 0, 0, ms);
  return Atomics.load(wake, 0) === 0;
}
