// Parsing of URL path parameters with the same rules as ASCII integers and
// hex (Sigsum log.md): decimal `0|[1-9][0-9]*` no larger than 2^63-1, hex of
// an exact length. Values beyond Number.MAX_SAFE_INTEGER are valid syntax but
// larger than any tree this server can hold: they are answered 400 here,
// naming the number as sent (a double could not show it exactly).
import { BadRequestError } from '../errors.js';
import { fromHex } from '../hex.js';
import { asHash, type Hash } from '../types.js';

const MAX_INT63 = (1n << 63n) - 1n;

export function parseIndexParam(name: string, text: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) {
    throw new BadRequestError(`${name}: "${truncate(text)}" is not a decimal integer without sign or leading zeros`);
  }
  if (text.length > 19 || BigInt(text) > MAX_INT63) {
    throw new BadRequestError(`${name}: ${truncate(text)} is larger than 2^63-1`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new BadRequestError(`${name} ${text} is beyond the tree head: no tree holds 2^53 or more leaves`);
  }
  return n;
}

export function parseHashParam(name: string, text: string): Hash {
  if (text.length !== 64 || !/^[0-9a-fA-F]+$/.test(text)) {
    throw new BadRequestError(`${name}: want 64 hex digits, got "${truncate(text)}"`);
  }
  return asHash(fromHex(text));
}

/** get-leaves' `<start>/<end>`: both indices, start < end. */
export function parseRangeParams(startText: string, endText: string): { start: number; end: number } {
  const start = parseIndexParam('start index', startText);
  const end = parseIndexParam('end index', endText);
  if (start >= end) throw new BadRequestError(`start index ${start} must be less than end index ${end}`);
  return { start, end };
}

function truncate(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}
