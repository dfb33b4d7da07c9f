// Progress of long work (import, fsck, backup, export, catch-up): a bar
// redrawn in place when the output is a terminal, otherwise a plain line at
// most every few seconds (for logs and pipes). The arithmetic and the text
// are pure functions; only createProgress touches a stream and the clock.

export interface ProgressSnapshot {
  /** Units done so far (≥ 0). */
  readonly done: number;
  /** Units in all, when known (≥ done); undefined for open-ended work (--follow). */
  readonly total: number | undefined;
  /** Milliseconds since the work started (≥ 0). */
  readonly elapsedMs: number;
  /** Units per second over the recent window; 0 before there is one. */
  readonly ratePerSecond: number;
}

/** Seconds left at the current rate, or undefined when unknown. */
export function etaSeconds(s: ProgressSnapshot): number | undefined {
  if (s.total === undefined || s.ratePerSecond <= 0) return undefined;
  return Math.max(0, (s.total - s.done) / s.ratePerSecond);
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const number = new Intl.NumberFormat('en-US');

/** One plain line: "fsck: 450,000/1,000,000 leaves (45.0%), 112,000 leaves/s, ETA 5s". */
export function formatProgressLine(label: string, unit: string, s: ProgressSnapshot): string {
  const parts = [`${label}: ${number.format(s.done)}${s.total === undefined ? '' : `/${number.format(s.total)}`} ${unit}`];
  if (s.total !== undefined && s.total > 0) parts[0] += ` (${((100 * s.done) / s.total).toFixed(1)}%)`;
  parts.push(`${number.format(Math.round(s.ratePerSecond))} ${unit}/s`);
  const eta = etaSeconds(s);
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  return parts.join(', ');
}

/** A terminal bar of `width` cells: "[#########.........] " + the plain line. */
export function formatProgressBar(label: string, unit: string, s: ProgressSnapshot, width = 30): string {
  const fraction = s.total === undefined || s.total === 0 ? 0 : Math.min(1, s.done / s.total);
  const filled = Math.floor(fraction * width);
  const bar = s.total === undefined ? '' : `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] `;
  return bar + formatProgressLine(label, unit, s);
}

/**
 * Rate over a sliding window of samples, so the figure follows the current
 * speed rather than the average since the start.
 */
export class RateWindow {
  private readonly samples: Array<{ at: number; done: number }> = [];
  constructor(private readonly windowMs = 10_000) {}

  add(at: number, done: number): number {
    this.samples.push({ at, done });
    while (this.samples.length > 2 && (this.samples[0] as { at: number }).at < at - this.windowMs) this.samples.shift();
    const first = this.samples[0] as { at: number; done: number };
    const spanMs = at - first.at;
    return spanMs <= 0 ? 0 : ((done - first.done) * 1000) / spanMs;
  }
}

export interface Progress {
  /** Reports units done so far; redraws or prints when due. */
  update(done: number, total?: number): void;
  /** Prints the final state (and, on a terminal, ends the bar's line). */
  finish(): void;
}

export interface ProgressOptions {
  label: string;
  /** What is counted, plural: "leaves". */
  unit: string;
  total?: number;
  /** Default process.stdout; a terminal when isTTY is true. */
  stream?: { write(text: string): unknown; isTTY?: boolean };
  /** Plain lines at most this often (default 5 s); a terminal bar at most every 200 ms. */
  lineIntervalMs?: number;
  now?: () => number;
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stdout;
  const tty = stream.isTTY === true;
  const now = opts.now ?? (() => Date.now());
  const started = now();
  const every = tty ? 200 : (opts.lineIntervalMs ?? 5_000);
  const rates = new RateWindow();
  let total = opts.total;
  let done = 0;
  let rate = 0;
  let lastShown = Number.NEGATIVE_INFINITY;
  const snapshot = (): ProgressSnapshot => ({ done, total, elapsedMs: now() - started, ratePerSecond: rate });
  const show = (): void => {
    if (tty) stream.write(`\r${formatProgressBar(opts.label, opts.unit, snapshot())}\x1b[K`);
    else stream.write(`${formatProgressLine(opts.label, opts.unit, snapshot())}\n`);
  };
  return {
    update(value, newTotal) {
      done = value;
      if (newTotal !== undefined) total = newTotal;
      const at = now();
      rate = rates.add(at, done);
      if (at - lastShown < every) return;
      lastShown = at;
      show();
    },
    finish() {
      const elapsed = (now() - started) / 1000;
      if (elapsed > 0) rate = done / elapsed;
      show();
      if (tty) stream.write('\n');
    },
  };
}
