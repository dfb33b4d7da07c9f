// A C2SP tlog-witness (tlog-witness.md) cosigning with an Ed25519
// cosignature/v1 key (tlog-cosignature.md): it verifies that each checkpoint
// a log submits is signed by that log and consistent with the last one it
// cosigned, then records and cosigns it. No HTTP here: errors are thrown as
// typed LogErrors carrying the status the spec requires.
import { ed25519Verify, keyHash, sha256 } from '../crypto/index.js';
import { BadRequestError, ConfigError, ForbiddenError, NotFoundError, UnavailableError } from '../errors.js';
import { bytesEqual, fromBase64, toHex } from '../hex.js';
import type { Logger } from '../log.js';
import { RepeatFilter } from '../log-repeats.js';
import { asHash, asSignature, HASH_SIZE, SIGNATURE_SIZE, type AsyncSigner, type Hash, type PublicKey, type Signature } from '../types.js';
import { COSIGNATURE_NAMESPACE, logOrigin } from '../formats/checkpoint.js';
import { formatInt } from '../formats/ascii.js';
import {
  formatCosignatureLine,
  formatNoteSignature,
  NOTE_SIG_TYPE_COSIGNATURE,
  NOTE_SIG_TYPE_ED25519,
  noteKeyId,
  parseSignedNote,
  witnessKeyName,
  type NoteSignature,
  type SignedNote,
} from '../formats/signed-note.js';
import { emptyRoot } from '../tree/hash.js';
import { verifyConsistency } from '../tree/verify.js';
import { ConflictError, UnprocessableEntityError } from './errors.js';
import { parseAddCheckpointRequest } from './protocol.js';
import type { WitnessState } from './state.js';

export interface WitnessOptions {
  /** In memory or an ssh-agent. */
  signer: AsyncSigner;
  /** Sigsum log keys this witness cosigns for; each log's origin is derived from its key. */
  logKeys: readonly PublicKey[];
  state: WitnessState;
  /** Current time in seconds since the UNIX epoch (the cosignature timestamp). */
  now(): number;
  log: Logger;
  /** Key name on cosignature lines; default `sigsum.org/v1/witness/<key hash>` as sigsum-witness uses. */
  keyName?: string;
}

/** The three checkpoint lines a witness reasons about; extension lines are cosigned but not interpreted. */
interface CheckpointHead {
  origin: string;
  size: number;
  rootHash: Hash;
}

const utf8 = new TextEncoder();

export class Witness {
  readonly keyName: string;
  readonly publicKey: PublicKey;
  private readonly logs = new Map<string, PublicKey>();
  private readonly byOriginHash = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  /** A key that cannot sign (agent gone) is logged once, not per request. */
  private readonly signingErrors: RepeatFilter;

  constructor(private readonly opts: WitnessOptions) {
    this.signingErrors = new RepeatFilter(opts.log);
    this.publicKey = opts.signer.publicKey;
    this.keyName = opts.keyName ?? witnessKeyName(this.publicKey);
    for (const key of opts.logKeys) {
      const origin = logOrigin(keyHash(key));
      this.logs.set(origin, key);
      this.byOriginHash.set(toHex(sha256(utf8.encode(origin))), origin);
    }
    for (const stored of opts.state.all()) this.checkStored(stored.origin, stored.note);
  }

  /** Origins (checkpoint first lines) this witness accepts. */
  origins(): string[] {
    return [...this.logs.keys()];
  }

  /**
   * Handles one add-checkpoint request body and returns the response body
   * (one cosignature line). Requests run one at a time, from reading the
   * stored size to the durable update, so the check-and-update is atomic even
   * though signing (an ssh-agent) is asynchronous: two concurrent requests can
   * never roll the state back.
   */
  addCheckpoint(body: string | Uint8Array): Promise<string> {
    const run = this.queue.then(() => this.addCheckpointNow(body));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async addCheckpointNow(body: string | Uint8Array): Promise<string> {
    const req = parseAddCheckpointRequest(body);
    const note = parseSignedNote(req.checkpoint);
    const head = parseCheckpointText(note.text);
    const logKey = this.logs.get(head.origin);
    if (logKey === undefined) throw new NotFoundError(`unknown log origin "${truncate(head.origin)}"`);
    const logSignatures = verifiedLogSignatures(note, head.origin, logKey);

    if (req.oldSize > head.size) throw new BadRequestError(`old size ${req.oldSize} is larger than the checkpoint size ${head.size}`);
    if (head.size === 0 && !bytesEqual(head.rootHash, emptyRoot())) {
      throw new UnprocessableEntityError('a checkpoint of size 0 must have the root hash of the empty tree');
    }
    const stored = this.storedHead(head.origin);
    const storedSize = stored?.size ?? 0;
    if (req.oldSize !== storedSize) throw new ConflictError(storedSize);
    checkConsistent(req.oldSize, stored?.rootHash, head, req.proof);

    const timestamp = this.opts.now();
    if (!Number.isSafeInteger(timestamp) || timestamp <= 0) throw new Error(`clock gave an invalid timestamp ${timestamp}`);
    const message = cosignedMessage(note.text, timestamp);
    const cosignature = {
      keyHash: keyHash(this.publicKey),
      timestamp,
      signature: await this.signOrUnavailable(utf8.encode(message)),
    };
    const line = formatCosignatureLine(this.publicKey, cosignature, this.keyName);
    // Kept as monitors are served it: the verified log signatures and ours.
    const storedNote = `${note.text}\n${logSignatures.map(formatNoteSignature).join('')}${line}`;
    this.opts.state.put({ origin: head.origin, note: storedNote }); // crash-safe point: durable before we answer
    if (head.size !== storedSize) this.opts.log.debug(`cosigned ${head.origin} at size ${head.size}`);
    return line;
  }

  /** A key that cannot sign now (ssh-agent gone) is a 503: the log retries, nothing is stored. */
  private async signOrUnavailable(message: Uint8Array): Promise<Signature> {
    let signature: Signature;
    try {
      signature = await this.opts.signer.sign(message);
    } catch (err) {
      const why = (err as Error)?.message ?? String(err);
      this.signingErrors.report('error', 'sign', (err as Error)?.name ?? 'error', `the witness cannot sign: ${why}`);
      throw new UnavailableError(`the witness cannot sign now: ${why}`);
    }
    if (this.signingErrors.clear('sign')) this.opts.log.info('the witness signs again');
    return signature;
  }

  /** The latest cosigned checkpoint for the origin whose SHA-256 is `originHashHex`, for monitors. */
  latestCheckpoint(originHashHex: string): string | undefined {
    const origin = this.byOriginHash.get(originHashHex.toLowerCase());
    return origin === undefined ? undefined : this.opts.state.get(origin)?.note;
  }

  private storedHead(origin: string): CheckpointHead | undefined {
    const stored = this.opts.state.get(origin);
    return stored === undefined ? undefined : parseCheckpointText(parseSignedNote(stored.note).text);
  }

  /** A state file that was edited or belongs to another key must not be trusted to vouch for sizes. */
  private checkStored(origin: string, noteText: string): void {
    const fail = (why: string): never => {
      throw new ConfigError(`witness state for ${origin}: ${why}`);
    };
    let note: SignedNote;
    let head: CheckpointHead;
    try {
      note = parseSignedNote(noteText);
      head = parseCheckpointText(note.text);
    } catch (err) {
      return fail((err as Error).message);
    }
    if (head.origin !== origin) fail('stored checkpoint has a different origin');
    const logKey = this.logs.get(origin);
    if (logKey !== undefined) {
      try {
        verifiedLogSignatures(note, origin, logKey);
      } catch {
        fail('the log signature on the stored checkpoint does not verify');
      }
    }
    const keyId = noteKeyId(this.keyName, NOTE_SIG_TYPE_COSIGNATURE, this.publicKey);
    const mine = note.signatures.filter((s) => s.keyName === this.keyName && bytesEqual(s.keyId, keyId));
    const valid = mine.some((s) => {
      if (s.signature.length !== 8 + SIGNATURE_SIZE) return false;
      const ts = new DataView(s.signature.buffer, s.signature.byteOffset, 8).getBigUint64(0);
      if (ts > BigInt(Number.MAX_SAFE_INTEGER)) return false;
      const message = cosignedMessage(note.text, Number(ts));
      return ed25519Verify(this.publicKey, utf8.encode(message), asSignature(s.signature.slice(8)));
    });
    if (!valid) fail('no valid cosignature by this witness key on the stored checkpoint');
  }
}

/** tlog-cosignature Ed25519 message: header line, time line, then the whole note text. */
function cosignedMessage(noteText: string, timestamp: number): string {
  return `${COSIGNATURE_NAMESPACE}\ntime ${formatInt(timestamp)}\n${noteText}`;
}

/**
 * The log's signature lines on the note, all verified. 403 when there is
 * none by the log key, or when one carrying the log key's name and ID does
 * not verify (signed-note: such a note is malformed). Lines by other keys
 * are ignored.
 */
function verifiedLogSignatures(note: SignedNote, origin: string, logKey: PublicKey): NoteSignature[] {
  const keyId = noteKeyId(origin, NOTE_SIG_TYPE_ED25519, logKey);
  const mine = note.signatures.filter((s) => s.keyName === origin && bytesEqual(s.keyId, keyId));
  if (mine.length === 0) throw new ForbiddenError('checkpoint has no signature by the log key');
  const message = utf8.encode(note.text);
  for (const s of mine) {
    if (s.signature.length !== SIGNATURE_SIZE || !ed25519Verify(logKey, message, asSignature(s.signature))) {
      throw new ForbiddenError('the log signature on the checkpoint does not verify');
    }
  }
  return mine;
}

/** tlog-checkpoint body: origin, decimal size, base64 root, then optional non-empty extension lines. */
function parseCheckpointText(text: string): CheckpointHead {
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new BadRequestError('checkpoint needs origin, size and root hash lines');
  const [origin, sizeLine, rootLine] = lines as [string, string, string];
  if (origin === '') throw new BadRequestError('checkpoint origin is empty');
  if (lines.slice(3).some((l) => l === '')) throw new BadRequestError('checkpoint has an empty extension line');
  if (!/^(?:0|[1-9][0-9]*)$/.test(sizeLine)) throw new BadRequestError('checkpoint size is not a decimal number');
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new BadRequestError('checkpoint size is too large');
  let root: Uint8Array;
  try {
    root = fromBase64(rootLine);
  } catch {
    throw new BadRequestError('checkpoint root hash is not base64');
  }
  if (root.length !== HASH_SIZE) throw new BadRequestError('checkpoint root hash is not 32 bytes');
  return { origin, size, rootHash: asHash(root) };
}

/** 422 unless `proof` shows the stored tree (oldSize, oldRoot) is a prefix of `head`. */
function checkConsistent(oldSize: number, oldRoot: Hash | undefined, head: CheckpointHead, proof: Hash[]): void {
  if (oldSize === 0) {
    if (proof.length !== 0) throw new UnprocessableEntityError('consistency proof must be empty when the old size is 0');
    return;
  }
  // oldSize equals the stored size here, so a stored root exists.
  const root = oldRoot as Hash;
  if (oldSize === head.size) {
    if (proof.length !== 0) throw new UnprocessableEntityError('consistency proof must be empty when the size is unchanged');
    if (!bytesEqual(root, head.rootHash)) throw new UnprocessableEntityError(`root hash at size ${oldSize} differs from the one cosigned before`);
    return;
  }
  if (!verifyConsistency(oldSize, head.size, root, head.rootHash, proof)) {
    throw new UnprocessableEntityError(`consistency proof from size ${oldSize} to ${head.size} does not verify`);
  }
}

function truncate(s: string): string {
  return s.length > 100 ? s.slice(0, 100) + '…' : s;
}
