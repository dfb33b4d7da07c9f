// The numbered runbook that promote-secondary and secondary-truncate print as
// they go. A step either reports what it found or refuses; a refusal stops the
// run and says what the operator should do next.
import { ConfigError } from '../errors.js';

/** A check failed: the run stops at this step. */
export class RunbookRefusal extends ConfigError {
  constructor(
    /** What is wrong, in terms of this node and this log. */
    readonly problem: string,
    /** What the operator should do about it. */
    readonly remedy: string,
  ) {
    super(`${problem} What to do: ${remedy}`);
    this.name = 'RunbookRefusal';
  }
}

/** Writes one line of runbook output (a newline is added). */
export type LineWriter = (line: string) => void;

export class Runbook {
  private number = 0;

  constructor(private readonly write: LineWriter) {}

  /** A line outside the numbered steps. */
  say(line: string): void {
    this.write(line);
  }

  /**
   * Runs the next numbered step. `body` reports findings through `note`;
   * a RunbookRefusal it throws is printed under the step and rethrown.
   */
  async step<T>(title: string, body: (note: LineWriter) => T | Promise<T>): Promise<T> {
    this.number++;
    this.write(`${this.number}. ${title}`);
    try {
      return await body((line) => this.write(`   ${line}`));
    } catch (err) {
      if (err instanceof RunbookRefusal) {
        this.write(`   REFUSED: ${err.problem}`);
        this.write(`   What to do: ${err.remedy}`);
      }
      throw err;
    }
  }
}
