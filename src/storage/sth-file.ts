// The signed-tree-head file and its startup file, with log-go's semantics.
//
// `<sth-file>` holds the newest published signed tree head in Sigsum ASCII
// (size, root_hash, signature). It is replaced atomically and durably *before*
// the head is served, so every head a client ever saw is on disk.
// `<sth-file>.startup` holds one line `startup=empty` or `startup=local-tree`
// and tells a primary without an sth file how to make its first one.
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { formatSignedTreeHead, parseSignedTreeHead } from '../formats/messages.js';
import type { SignedTreeHead } from '../formats/tree-head.js';
import { writeFileAtomic, removeFileDurably } from './atomic-file.js';

export type StartupMode = 'empty' | 'local-tree';
export const STARTUP_SUFFIX = '.startup';

export class SthFile {
  readonly startupPath: string;
  constructor(readonly path: string) {
    this.startupPath = path + STARTUP_SUFFIX;
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  /** The startup mode, or undefined when there is no startup file. */
  readStartup(): StartupMode | undefined {
    if (!existsSync(this.startupPath)) return undefined;
    const first = readFileSync(this.startupPath, 'utf8').split('\n')[0]?.trim() ?? '';
    const m = /^startup=(.*)$/.exec(first);
    if (m === null) throw new ConfigError(`${this.startupPath}: missing "startup=" line`);
    if (m[1] === 'empty' || m[1] === 'local-tree') return m[1];
    throw new ConfigError(`${this.startupPath}: invalid startup mode "${m[1]}" (want empty or local-tree)`);
  }

  /** Durable once it returns. */
  writeStartup(mode: StartupMode): void {
    writeFileAtomic(this.startupPath, `startup=${mode}\n`);
  }

  /** Durable once it returns. */
  removeStartup(): void {
    removeFileDurably(this.startupPath);
  }

  /** Parses the sth file; the caller verifies the signature. */
  load(): SignedTreeHead {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read sth file ${this.path}: ${(err as Error).message}`);
    }
    try {
      return parseSignedTreeHead(text);
    } catch (err) {
      throw new ConfigError(`sth file ${this.path} is malformed: ${(err as Error).message}`);
    }
  }

  /** Replaces the sth file. Durable once it returns. */
  store(sth: SignedTreeHead): void {
    writeFileAtomic(this.path, formatSignedTreeHead(sth));
  }
}
