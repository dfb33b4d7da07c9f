// The C2SP tlog-witness add-checkpoint wire format, shared by the witness
// (which parses requests) and the log (which writes them and reads the 409
// answer). Pure functions; no I/O.
//
//   old <size>\n
//   <base64 consistency proof hash>\n   (0..63 lines)
//   \n
//   <signed checkpoint note>
//
// A 409 answer carries the witness's size as `<size>\n` with Content-Type
// text/x.tlog.size.
import { BadRequestError } from '../errors.js';
import { fromBase64, toBase64 } from '../hex.js';
import { asHash, HASH_SIZE, type Hash } from '../types.js';
import { formatInt, parseSafeIntField } from '../formats/ascii.js';

/** Content type of a 409 Conflict body. */
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';
/** tlog-witness: a client MUST NOT send more than 63 proof lines. */
export const MAX_PROOF_LINES = 63;

export interface AddCheckpointRequest {
  oldSize: number;
  /** Consistency proof from oldSize to the checkpoint's size (RFC 6962 §2.1.2). */
  proof: Hash[];
  /** The signed checkpoint note, verbatim (text, blank line, signature lines). */
  checkpoint: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function formatAddCheckpointRequest(req: AddCheckpointRequest): string {
  if (req.proof.length > MAX_PROOF_LINES) throw new RangeError(`consistency proof longer than ${MAX_PROOF_LINES} hashes`);
  return `old ${formatInt(req.oldSize)}\n${req.proof.map((h) => toBase64(h) + '\n').join('')}\n${req.checkpoint}`;
}

/**
 * Splits a request body into its parts. Checks only the framing (old line,
 * proof lines, separator); the checkpoint note is left for the caller to
 * parse and verify. Throws BadRequestError (400).
 */
export function parseAddCheckpointRequest(body: string | Uint8Array): AddCheckpointRequest {
  let text: string;
  try {
    text = typeof body === 'string' ? body : strictUtf8.decode(body);
  } catch {
    throw new BadRequestError('request body is not valid UTF-8');
  }
  let pos = 0;
  const nextLine = (what: string): string => {
    const end = text.indexOf('\n', pos);
    if (end < 0) throw new BadRequestError(`${what}: missing newline`);
    const line = text.slice(pos, end);
    pos = end + 1;
    return line;
  };
  const oldLine = nextLine('old size line');
  if (!oldLine.startsWith('old ')) throw new BadRequestError('first line must be "old <size>"');
  const oldSize = parseSafeIntField('old', oldLine.slice(4));

  const proof: Hash[] = [];
  for (;;) {
    const line = nextLine('consistency proof');
    if (line === '') break;
    if (proof.length === MAX_PROOF_LINES) throw new BadRequestError(`more than ${MAX_PROOF_LINES} consistency proof lines`);
    let hash: Uint8Array;
    try {
      hash = fromBase64(line);
    } catch {
      throw new BadRequestError(`consistency proof line ${proof.length + 1}: invalid base64`);
    }
    if (hash.length !== HASH_SIZE) throw new BadRequestError(`consistency proof line ${proof.length + 1}: not a 32-byte hash`);
    proof.push(asHash(hash));
  }
  return { oldSize, proof, checkpoint: text.slice(pos) };
}

export function formatTlogSize(size: number): string {
  return `${formatInt(size)}\n`;
}

/** Parses a 409 body: exactly one decimal line. Throws BadRequestError if malformed. */
export function parseTlogSize(body: string): number {
  if (!body.endsWith('\n') || body.indexOf('\n') !== body.length - 1) {
    throw new BadRequestError('text/x.tlog.size body must be exactly one line');
  }
  return parseSafeIntField('size', body.slice(0, -1));
}
