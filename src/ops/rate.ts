// Rates over the last minute from a growing count, sampled every few
// seconds (by the status model's timer) rather than on each event.

/** Samples kept: one per SAMPLE_EVERY_MS, a bit more than a minute's worth. */
export const SAMPLE_EVERY_MS = 5_000;
const WINDOW_MS = 60_000;

export class MinuteRate {
  private readonly samples: Array<{ at: number; count: number }> = [];

  /** Records the count at time `at` (ms). */
  sample(at: number, count: number): void {
    this.samples.push({ at, count });
    while (this.samples.length > 1 && (this.samples[0] as { at: number }).at < at - WINDOW_MS) this.samples.shift();
  }

  /** Per second over the last minute (or since the first sample), counting up to `count` at `at`. */
  perSecond(at: number, count: number): number {
    const first = this.samples.find((s) => s.at >= at - WINDOW_MS) ?? this.samples[this.samples.length - 1];
    if (first === undefined || at <= first.at) return 0;
    return ((count - first.count) * 1000) / (at - first.at);
  }
}
