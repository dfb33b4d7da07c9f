// C2SP signed notes (signed-note.md), as used by tlog-checkpoint and
// tlog-cosignature, plus the Sigsum-specific glue a log needs to talk to
// C2SP tlog-witness witnesses: sending its signed checkpoint and reading
// back Ed25519 cosignature lines.
import { keyHash, sha256 } from '../crypto/index.js';
import { BadRequestError } from '../errors.js';
import { bytesEqual, concatBytes, fromBase64, toBase64, toHex } from '../hex.js';
import { asHash, asSignature, SIGNATURE_SIZE, type Hash, type PublicKey } from '../types.js';
import { MAX_ASCII_INT, printable } from './ascii.js';
import { checkpointBody, logOrigin } from './checkpoint.js';
import type { Cosignature, SignedTreeHead } from './tree-head.js';

/** A malformed note, signature line or witness response. */
export class NoteError extends BadRequestError {}

/** Signature type byte of plain Ed25519 note signatures (the log's own). */
export const NOTE_SIG_TYPE_ED25519 = 0x01;
/** Signature type byte of timestamped Ed25519 cosignatures (tlog-cosignature). */
export const NOTE_SIG_TYPE_COSIGNATURE = 0x04;

export const KEY_ID_SIZE = 4;
const EM_DASH = '\u2014';
const TIMESTAMP_SIZE = 8;
/** Verifiers must accept at least 16 signatures; allow more, but not without bound. */
export const DEFAULT_MAX_NOTE_SIGNATURES = 100;

const utf8 = new TextEncoder();
// ignoreBOM keeps a leading BOM in the text, so it is rejected instead of silently dropped.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Go's unicode.IsSpace also counts U+0085, which JS \s does not.
const BAD_NAME_CHAR = /[\s\u0085+]/u;
// signed-note: no ASCII control characters other than newline.
const CONTROL_CHAR = /[\x00-\x09\x0b-\x1f]/;

export interface NoteSignature {
  keyName: string;
  /** 4 bytes: by convention SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]. */
  keyId: Uint8Array;
  /** The algorithm-specific signature bytes following the key ID. */
  signature: Uint8Array;
}

export interface SignedNote {
  /** The note text, including its final newline. */
  text: string;
  signatures: NoteSignature[];
}

export function noteKeyId(keyName: string, sigType: number, publicKey: PublicKey): Uint8Array {
  const hash = sha256(utf8.encode(keyName), new Uint8Array([0x0a, sigType]), publicKey);
  return hash.slice(0, KEY_ID_SIZE);
}

function checkKeyName(keyName: string): void {
  if (keyName === '' || BAD_NAME_CHAR.test(keyName) || CONTROL_CHAR.test(keyName)) {
    throw new NoteError(`invalid note key name '${printable(keyName)}'`);
  }
}

function decodeText(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  try {
    return strictUtf8.decode(input);
  } catch {
    throw new NoteError('note is not valid UTF-8');
  }
}

/** Formats `— <name> <base64(keyID ‖ signature)>\n`. */
export function formatNoteSignature(sig: NoteSignature): string {
  checkKeyName(sig.keyName);
  if (sig.keyId.length !== KEY_ID_SIZE) throw new RangeError('note key ID must be 4 bytes');
  return `${EM_DASH} ${sig.keyName} ${toBase64(concatBytes(sig.keyId, sig.signature))}\n`;
}

/** Parses one signature line given without its newline. */
export function parseNoteSignature(line: string): NoteSignature {
  const fields = line.split(' ');
  if (fields.length !== 3 || fields[0] !== EM_DASH) throw new NoteError('malformed note signature line');
  const keyName = fields[1]!;
  checkKeyName(keyName);
  let blob: Uint8Array;
  try {
    blob = fromBase64(fields[2]!);
  } catch {
    throw new NoteError(`note signature by '${printable(keyName)}': invalid base64`);
  }
  if (blob.length <= KEY_ID_SIZE) throw new NoteError(`note signature by '${printable(keyName)}': too short`);
  return { keyName, keyId: blob.slice(0, KEY_ID_SIZE), signature: blob.slice(KEY_ID_SIZE) };
}

/** Text (ending in a newline), a blank line, then one signature line each. */
export function formatSignedNote(note: SignedNote): string {
  if (!note.text.endsWith('\n')) throw new Error('note text must end with a newline');
  if (CONTROL_CHAR.test(note.text)) throw new Error('note text contains control characters');
  if (note.signatures.length === 0) throw new Error('a signed note needs at least one signature');
  return `${note.text}\n${note.signatures.map(formatNoteSignature).join('')}`;
}

/** Parses newline-terminated signature lines (at least one), all of which must be well-formed. */
function parseSignatureBlock(block: string, maxSignatures: number): NoteSignature[] {
  if (block === '') throw new NoteError('no signature lines');
  if (!block.endsWith('\n')) throw new NoteError('signature line without final newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > maxSignatures) throw new NoteError(`more than ${maxSignatures} signature lines`);
  return lines.map(parseNoteSignature);
}

/**
 * Splits a signed note into text and signature lines, strictly: valid UTF-8,
 * no control characters but newline, text separated from the signatures by
 * the last blank line, every line after it a well-formed signature line.
 * Signatures are not verified here.
 */
export function parseSignedNote(input: string | Uint8Array, maxSignatures = DEFAULT_MAX_NOTE_SIGNATURES): SignedNote {
  const note = decodeText(input);
  if (CONTROL_CHAR.test(note)) throw new NoteError('note contains control characters');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('note has no blank line before its signatures');
  return { text: note.slice(0, split + 1), signatures: parseSignatureBlock(note.slice(split + 2), maxSignatures) };
}

// --- Sigsum log and witness keys --------------------------------------------------

/** The log's note key name: its checkpoint origin. */
export function logNoteKeyName(logKeyHash: Hash): string {
  return logOrigin(logKeyHash);
}

/** The key name sigsum-witness uses for its cosignatures: `sigsum.org/v1/witness/<hex key hash>`. */
export function witnessKeyName(witnessPublicKey: PublicKey): string {
  return `sigsum.org/v1/witness/${toHex(keyHash(witnessPublicKey))}`;
}

/** The log's Ed25519 note signature line for its tree head signature. */
export function logNoteSignature(logPublicKey: PublicKey, sth: SignedTreeHead): NoteSignature {
  const keyName = logNoteKeyName(keyHash(logPublicKey));
  return { keyName, keyId: noteKeyId(keyName, NOTE_SIG_TYPE_ED25519, logPublicKey), signature: sth.signature };
}

/**
 * The signed checkpoint the log sends to a tlog-witness witness. The Sigsum
 * tree head signature is already an Ed25519 signature over the checkpoint
 * body, so it is reused as the note signature.
 */
export function signedCheckpointNote(logPublicKey: PublicKey, sth: SignedTreeHead): string {
  return formatSignedNote({
    text: checkpointBody(keyHash(logPublicKey), sth),
    signatures: [logNoteSignature(logPublicKey, sth)],
  });
}

function parseCheckpointSize(line: string): number {
  if (!/^(?:0|[1-9][0-9]*)$/.test(line)) throw new NoteError('checkpoint: invalid tree size');
  const size = BigInt(line);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new NoteError('checkpoint: tree size too large');
  return Number(size);
}

/**
 * Reads a Sigsum log's signed checkpoint: exactly the three body lines with
 * this log's origin (no extension lines) and exactly one signature line by
 * the log key. Other signature lines are ignored. The signature is not
 * verified: use verifyTreeHeadSignature.
 */
export function parseSigsumCheckpointNote(input: string | Uint8Array, logPublicKey: PublicKey): SignedTreeHead {
  const note = parseSignedNote(input);
  const lines = note.text.slice(0, -1).split('\n');
  if (lines.length !== 3) throw new NoteError('checkpoint: expected exactly 3 body lines');
  const [origin, sizeLine, rootLine] = lines as [string, string, string];
  const wantOrigin = logNoteKeyName(keyHash(logPublicKey));
  if (origin !== wantOrigin) throw new NoteError('checkpoint: origin does not match the log key');
  let root: Uint8Array;
  try {
    root = fromBase64(rootLine);
  } catch {
    throw new NoteError('checkpoint: invalid root hash');
  }
  if (root.length !== 32) throw new NoteError('checkpoint: root hash must be 32 bytes');

  const keyId = noteKeyId(origin, NOTE_SIG_TYPE_ED25519, logPublicKey);
  const mine = note.signatures.filter((s) => s.keyName === origin && bytesEqual(s.keyId, keyId));
  if (mine.length !== 1) throw new NoteError(`checkpoint: expected one log signature, found ${mine.length}`);
  if (mine[0]!.signature.length !== SIGNATURE_SIZE) throw new NoteError('checkpoint: log signature has wrong size');
  return { size: parseCheckpointSize(sizeLine), rootHash: asHash(root), signature: asSignature(mine[0]!.signature) };
}

/** The note signature carrying a witness cosignature: timestamp (8 bytes, big-endian) ‖ signature. */
export function cosignatureNoteSignature(
  witnessPublicKey: PublicKey,
  cosig: Cosignature,
  keyName = witnessKeyName(witnessPublicKey),
): NoteSignature {
  if (!Number.isSafeInteger(cosig.timestamp) || cosig.timestamp < 0) throw new RangeError('invalid timestamp');
  const ts = new Uint8Array(TIMESTAMP_SIZE);
  new DataView(ts.buffer).setBigUint64(0, BigInt(cosig.timestamp));
  return {
    keyName,
    keyId: noteKeyId(keyName, NOTE_SIG_TYPE_COSIGNATURE, witnessPublicKey),
    signature: concatBytes(ts, cosig.signature),
  };
}

/** A witness's cosignature line, as a tlog-witness add-checkpoint response carries it. */
export function formatCosignatureLine(
  witnessPublicKey: PublicKey,
  cosig: Cosignature,
  keyName = witnessKeyName(witnessPublicKey),
): string {
  return formatNoteSignature(cosignatureNoteSignature(witnessPublicKey, cosig, keyName));
}

function cosignatureFromBlob(witnessKeyHash: Hash, keyName: string, blob: Uint8Array): Cosignature {
  if (blob.length !== TIMESTAMP_SIZE + SIGNATURE_SIZE) {
    throw new NoteError(`cosignature by '${printable(keyName)}' has wrong size ${blob.length}`);
  }
  const ts = new DataView(blob.buffer, blob.byteOffset, TIMESTAMP_SIZE).getBigUint64(0);
  if (ts > MAX_ASCII_INT) throw new NoteError(`cosignature by '${printable(keyName)}': timestamp exceeds 2^63-1`);
  if (ts > BigInt(Number.MAX_SAFE_INTEGER)) throw new NoteError(`cosignature by '${printable(keyName)}': timestamp too large`);
  return { keyHash: witnessKeyHash, timestamp: Number(ts), signature: asSignature(blob.slice(TIMESTAMP_SIZE)) };
}

/**
 * Extracts this witness's Ed25519 cosignatures from an add-checkpoint
 * response (one or more note signature lines). A line belongs to the witness
 * if its key ID matches the witness key under the line's own key name (as
 * sigsum-go does, since policies name witnesses only by key), or under
 * `keyName` exactly when one is given. Other lines are ignored; malformed
 * lines are errors. The cosignatures are NOT verified: use verifyCosignature.
 */
export function parseWitnessCosignatures(
  response: string | Uint8Array,
  witnessPublicKey: PublicKey,
  keyName?: string,
): Cosignature[] {
  const text = decodeText(response);
  if (CONTROL_CHAR.test(text)) throw new NoteError('witness response contains control characters');
  const witnessKeyHash = keyHash(witnessPublicKey);
  const result: Cosignature[] = [];
  for (const sig of parseSignatureBlock(text, DEFAULT_MAX_NOTE_SIGNATURES)) {
    if (keyName !== undefined && sig.keyName !== keyName) continue;
    if (!bytesEqual(sig.keyId, noteKeyId(sig.keyName, NOTE_SIG_TYPE_COSIGNATURE, witnessPublicKey))) continue;
    result.push(cosignatureFromBlob(witnessKeyHash, sig.keyName, sig.signature));
  }
  return result;
}
