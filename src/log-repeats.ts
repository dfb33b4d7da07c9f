// Keeps a condition that persists (an unreachable node polled every second)
// from filling the log: a message is written when its kind differs from the
// last one for the same subject, and otherwise at most once per `everyMs`
// (with the number of repeats left out). Kinds are stable names such as
// "unreachable", so that a message that only differs in a number (a growing
// size) still counts as a repeat.
import type { LogFields, Logger, LogLevel } from './log.js';

export class RepeatFilter {
  private last = new Map<string, { kind: string; at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `message` about `subject` unless a message of the same kind was logged too recently. */
  report(level: Exclude<LogLevel, 'debug'>, subject: string, kind: string, message: string, fields?: LogFields): void {
    const t = this.now();
    const prev = this.last.get(subject);
    if (prev !== undefined && prev.kind === kind && t - prev.at < this.everyMs) {
      prev.suppressed++;
      this.log.debug(message, fields); // kept for whoever runs at debug level
      return;
    }
    const repeats = prev !== undefined && prev.kind === kind && prev.suppressed > 0 ? ` (${prev.suppressed} similar since last logged)` : '';
    this.log[level](message + repeats, fields);
    this.last.set(subject, { kind, at: t, suppressed: 0 });
  }

  /**
   * Forgets the subject's condition; returns true if there was one, so the
   * caller can log that it cleared.
   */
  clear(subject: string): boolean {
    return this.last.delete(subject);
  }
}
