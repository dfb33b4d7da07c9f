// The read side of the public API, shared by both roles: a primary serves it
// for the head it published, a read replica for the newest published head it
// verified (log signature, and root equal to its own tree's). Every answer is
// bounded by that head, so a replica answers exactly as the primary would
// have for the same head.
import { gzipSync } from 'node:zlib';
import { keyHash } from '../crypto/index.js';
import { BadRequestError, NotFoundError, UnavailableError } from '../errors.js';
import { checkpointBody } from '../formats/checkpoint.js';
import { cosignatureNoteSignature, formatSignedNote, logNoteSignature, type NoteSignature } from '../formats/signed-note.js';
import type { CosignedTreeHead } from '../formats/tree-head.js';
import { coveredBy, encodeEntryBundle, TILE_WIDTH, treeLevel, type TileRef } from '../tiles/layout.js';
import type { Hash, PublicKey } from '../types.js';

/** The tree reads the public API needs; declared here, by its consumer. */
export interface ReadStore {
  indexOfLeafHash(hash: Hash): number | undefined;
  inclusionProof(index: number, size: number): Hash[];
  consistencyProof(oldSize: number, newSize: number): Hash[];
  leaves(start: number, end: number): Uint8Array[];
  /** Stored hashes of the complete nodes (level, start) … (level, end - 1), concatenated. */
  nodeHashes(level: number, start: number, end: number): Uint8Array;
}

export interface PublishedReadsOptions {
  store: ReadStore;
  /** The head every answer is bounded by; undefined while there is none (a replica that has verified none yet). */
  head: () => CosignedTreeHead | undefined;
  /** Leaves per get-leaves answer at most. */
  maxRange: number;
  logPublicKey: PublicKey;
  /** A witness's public key by its key hash, for its cosignature line in `checkpoint`; unknown witnesses are left out. */
  witnessKey?: (witnessKeyHash: Hash) => PublicKey | undefined;
}

/** Full entry bundles kept gzipped in memory, most recent first out. */
const GZIP_CACHE_ENTRIES = 64;

export class PublishedReads {
  private checkpointFor: { head: CosignedTreeHead; text: string } | undefined;
  private readonly gzipped = new Map<number, Uint8Array>();

  constructor(private readonly opts: PublishedReadsOptions) {}

  /** The witness keys it was given, for others writing the same checkpoint. */
  get witnessKey(): ((witnessKeyHash: Hash) => PublicKey | undefined) | undefined {
    return this.opts.witnessKey;
  }

  cosignedTreeHead(): CosignedTreeHead {
    const head = this.opts.head();
    if (head === undefined) throw new UnavailableError('this read replica has not verified a published tree head yet; retry later', 5);
    return head;
  }

  inclusionProof(size: number, hash: Hash): { leafIndex: number; path: Hash[] } {
    const published = this.cosignedTreeHead().size;
    if (size > published) throw new BadRequestError(`tree size ${size} is beyond the published tree head (size ${published})`);
    const index = this.opts.store.indexOfLeafHash(hash);
    if (index === undefined || index >= size) throw new NotFoundError(`leaf is not included in the tree of size ${size}`);
    return { leafIndex: index, path: this.opts.store.inclusionProof(index, size) };
  }

  consistencyProof(oldSize: number, newSize: number): Hash[] {
    const published = this.cosignedTreeHead().size;
    if (newSize > published) throw new BadRequestError(`new size ${newSize} is beyond the published tree head (size ${published})`);
    return this.opts.store.consistencyProof(oldSize, newSize);
  }

  /** Leaves [start, end) clamped to max-range, with log-go's public rule: start or end beyond the head is 400. */
  leaves(start: number, end: number): Uint8Array[] {
    const size = this.cosignedTreeHead().size;
    if (start >= size) throw new BadRequestError(`start index ${start} is beyond the published tree head (size ${size})`);
    if (end > size) throw new BadRequestError(`end index ${end} is beyond the published tree head (size ${size})`);
    return this.opts.store.leaves(start, Math.min(end, start + this.opts.maxRange));
  }

  /** The published head as a C2SP checkpoint: the log's note signature, then one cosignature line per known witness. */
  checkpoint(): string {
    const head = this.cosignedTreeHead();
    if (this.checkpointFor?.head !== head) this.checkpointFor = { head, text: checkpointNote(this.opts.logPublicKey, head, this.opts.witnessKey) };
    return this.checkpointFor.text;
  }

  /** A tile's hashes or a bundle's entries; NotFoundError unless the published head covers all of it. */
  tile(ref: TileRef): Uint8Array {
    const size = this.cosignedTreeHead().size;
    if (!coveredBy(ref, size)) throw new NotFoundError(`${describe(ref)} is not covered by the published tree head (size ${size})`);
    const start = ref.index * TILE_WIDTH;
    if (ref.level === 'entries') return encodeEntryBundle(this.opts.store.leaves(start, start + ref.width));
    return this.opts.store.nodeHashes(treeLevel(ref), start, start + ref.width);
  }

  /** An entry bundle gzipped; full ones from a small cache, as they never change. */
  gzippedBundle(ref: TileRef): Uint8Array {
    if (ref.level !== 'entries' || ref.width !== TILE_WIDTH) return gzipSync(this.tile(ref));
    let z = this.gzipped.get(ref.index);
    if (z === undefined) {
      z = gzipSync(this.tile(ref));
      if (this.gzipped.size >= GZIP_CACHE_ENTRIES) this.gzipped.delete(this.gzipped.keys().next().value as number);
      this.gzipped.set(ref.index, z);
    }
    return z;
  }
}

/** The checkpoint note of a cosigned head: the log's signature line first, then the witnesses'. */
export function checkpointNote(
  logPublicKey: PublicKey,
  head: CosignedTreeHead,
  witnessKey?: (witnessKeyHash: Hash) => PublicKey | undefined,
): string {
  const signatures: NoteSignature[] = [logNoteSignature(logPublicKey, head)];
  for (const cosig of head.cosignatures) {
    const key = witnessKey?.(cosig.keyHash);
    if (key !== undefined) signatures.push(cosignatureNoteSignature(key, cosig));
  }
  return formatSignedNote({ text: checkpointBody(keyHash(logPublicKey), head), signatures });
}

function describe(ref: TileRef): string {
  const what = ref.level === 'entries' ? 'entry bundle' : `tile at level ${ref.level}`;
  return `${what} ${ref.index}${ref.width === TILE_WIDTH ? '' : ` of width ${ref.width}`}`;
}
