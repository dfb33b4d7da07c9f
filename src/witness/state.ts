// The witness's memory: for each log origin, the latest checkpoint it
// cosigned. Kept in one small JSON file that is replaced atomically (fsync,
// rename, fsync of the directory) on every change, so after a crash it holds
// either the old or the new record, never a mix, and never loses a
// cosignature that was already returned.
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../storage/atomic-file.js';

/** The latest cosigned checkpoint of one log, as the witness serves it back to monitors. */
export interface StoredCheckpoint {
  origin: string;
  /**
   * The signed checkpoint note as received, with this witness's cosignature
   * line appended. Size and root are read from it again on load, so the file
   * cannot disagree with itself.
   */
  note: string;
}

export interface WitnessState {
  /** Every stored checkpoint, for verification at startup. */
  all(): StoredCheckpoint[];
  get(origin: string): StoredCheckpoint | undefined;
  /**
   * Makes `checkpoint` the latest one for its origin. Durable once it
   * returns; when it throws, the stored state is unchanged.
   */
  put(checkpoint: StoredCheckpoint): void;
}

const FORMAT_VERSION = 1;

interface FileContent {
  version: number;
  checkpoints: Record<string, string>;
}

export class FileWitnessState implements WitnessState {
  private constructor(
    readonly path: string,
    private readonly checkpoints: Map<string, string>,
  ) {}

  /** Reads the state file; a missing file is an empty state (a new witness). */
  static open(path: string): FileWitnessState {
    if (!existsSync(path)) return new FileWitnessState(path, new Map());
    let content: FileContent;
    try {
      content = JSON.parse(readFileSync(path, 'utf8')) as FileContent;
    } catch (err) {
      throw new ConfigError(`witness state file ${path} is unreadable: ${(err as Error).message}`);
    }
    const ok =
      typeof content === 'object' &&
      content !== null &&
      content.version === FORMAT_VERSION &&
      typeof content.checkpoints === 'object' &&
      content.checkpoints !== null &&
      Object.values(content.checkpoints).every((v) => typeof v === 'string');
    if (!ok) throw new ConfigError(`witness state file ${path} is not a version ${FORMAT_VERSION} state file`);
    return new FileWitnessState(path, new Map(Object.entries(content.checkpoints)));
  }

  all(): StoredCheckpoint[] {
    return [...this.checkpoints].map(([origin, note]) => ({ origin, note }));
  }

  get(origin: string): StoredCheckpoint | undefined {
    const note = this.checkpoints.get(origin);
    return note === undefined ? undefined : { origin, note };
  }

  put(checkpoint: StoredCheckpoint): void {
    const next = new Map(this.checkpoints).set(checkpoint.origin, checkpoint.note);
    const content: FileContent = { version: FORMAT_VERSION, checkpoints: Object.fromEntries(next) };
    writeFileAtomic(this.path, JSON.stringify(content, null, 2) + '\n', 0o600);
    this.checkpoints.set(checkpoint.origin, checkpoint.note); // only once durable
  }
}
