// The Sigsum v1 ASCII key=value format used on the wire by every log
// endpoint (sigsum log.md §2.2.1). Parsing is strict: independent clients
// parse our output with equally strict parsers, and being lax on input would
// let two implementations disagree about what a request meant.
import { BadRequestError } from '../errors.js';
import { fromHex, HexError } from '../hex.js';

/** A malformed ASCII request or response. Always a 400 when it reaches HTTP. */
export class AsciiError extends BadRequestError {}

/**
 * One key of an endpoint's key list. Only the last field may set `repeat`
 * (one or more lines) or `optional` (zero lines allowed; with `repeat`,
 * zero or more).
 */
export interface AsciiField {
  name: string;
  repeat?: boolean;
  optional?: boolean;
}

/** 2^63 - 1: the spec caps integers so signed 64-bit types can hold them. */
export const MAX_ASCII_INT = (1n << 63n) - 1n;

const INT_RE = /^(?:0|[1-9][0-9]*)$/;
// Printable ASCII only: a CR (from CRLF), tab or any non-ASCII byte is an error.
const VALUE_RE = /^[\x20-\x7e]*$/;

/**
 * Peer-supplied text for an error message: error messages end up in
 * responses and logs, so it is shortened and stripped of anything unprintable.
 */
export function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}

function checkFieldSpec(fields: readonly AsciiField[]): void {
  fields.forEach((f, i) => {
    if ((f.repeat || f.optional) && i !== fields.length - 1) {
      throw new Error(`ascii field spec: only the last field may repeat or be optional (${f.name})`);
    }
  });
}

/**
 * Parses `Key=Value\n` lines against the endpoint's key list. The result maps
 * each field name to its values in input order (an empty array for an absent
 * optional field). Throws AsciiError naming the offending key.
 */
export function parseAscii(text: string, fields: readonly AsciiField[]): Map<string, string[]> {
  checkFieldSpec(fields);
  const result = new Map<string, string[]>(fields.map((f) => [f.name, []]));
  const fieldIndex = new Map(fields.map((f, i) => [f.name, i]));

  if (text.length > 0 && !text.endsWith('\n')) {
    const lastLine = text.slice(text.lastIndexOf('\n') + 1);
    const eq = lastLine.indexOf('=');
    const what = eq >= 0 ? `key '${printable(lastLine.slice(0, eq))}'` : 'last line';
    throw new AsciiError(`missing final newline after ${what}`);
  }
  const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n');

  let cursor = 0; // index of the field the next line may belong to
  for (const [n, line] of lines.entries()) {
    const lineNo = n + 1;
    if (line === '') throw new AsciiError(`line ${lineNo}: empty line`);
    // The key is everything before the first '=' (log.md §2.2.1).
    const eq = line.indexOf('=');
    if (eq < 0) throw new AsciiError(`line ${lineNo}: no '=' in line`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);

    const at = fieldIndex.get(key);
    if (at === undefined) throw new AsciiError(`line ${lineNo}: unexpected key '${printable(key)}'`);

    // Skip past the current field if it is satisfied and this is a later key.
    if (at > cursor) {
      const skipped = fields[cursor]!;
      if (result.get(skipped.name)!.length === 0 && !skipped.optional) {
        throw new AsciiError(`line ${lineNo}: missing key '${skipped.name}' before '${key}'`);
      }
      if (at > cursor + 1) {
        throw new AsciiError(`line ${lineNo}: missing key '${fields[cursor + 1]!.name}' before '${key}'`);
      }
      cursor = at;
    } else if (at < cursor) {
      // Every field before the cursor already has its value.
      throw new AsciiError(`line ${lineNo}: duplicate key '${key}' (after '${fields[cursor]!.name}')`);
    }
    const values = result.get(key)!;
    const field = fields[at]!;
    if (values.length > 0 && !field.repeat) throw new AsciiError(`line ${lineNo}: duplicate key '${key}'`);
    if (value === '') throw new AsciiError(`line ${lineNo}: empty value for key '${key}'`);
    if (!VALUE_RE.test(value)) throw new AsciiError(`line ${lineNo}: invalid character in value of key '${key}'`);
    values.push(value);
  }

  for (const f of fields) {
    if (result.get(f.name)!.length === 0 && !f.optional) throw new AsciiError(`missing key '${f.name}'`);
  }
  return result;
}

/**
 * Formats key/value pairs as `key=value\n` lines, in the order given.
 * Throws a plain Error for pairs that could not be parsed back: that is a bug
 * in the caller, not bad input.
 */
export function writeAscii(pairs: ReadonlyArray<readonly [string, string]>): string {
  let out = '';
  for (const [key, value] of pairs) {
    if (key === '' || key.includes('=') || !VALUE_RE.test(key)) throw new Error(`ascii: invalid key '${key}'`);
    if (value === '' || !VALUE_RE.test(value)) throw new Error(`ascii: invalid value for key '${key}'`);
    out += `${key}=${value}\n`;
  }
  return out;
}

/** Decodes a hex value (either case) of exactly `byteLength` bytes. */
export function parseHexField(name: string, value: string, byteLength: number): Uint8Array {
  if (value.length !== 2 * byteLength) {
    throw new AsciiError(`key '${name}': expected ${2 * byteLength} hex characters, got ${value.length}`);
  }
  try {
    return fromHex(value);
  } catch (e) {
    if (e instanceof HexError) throw new AsciiError(`key '${name}': ${e.message}`);
    throw e;
  }
}

/** Parses a decimal integer per `0|[1-9][0-9]*`, at most 2^63 - 1. */
export function parseIntField(name: string, value: string): bigint {
  if (!INT_RE.test(value)) throw new AsciiError(`key '${name}': invalid decimal number '${printable(value)}'`);
  const n = BigInt(value);
  if (n > MAX_ASCII_INT) throw new AsciiError(`key '${name}': number exceeds 2^63-1`);
  return n;
}

/**
 * Narrows a parsed integer to a JS number for callers that index arrays or
 * store sizes as numbers. Values beyond 2^53-1 are legal on the wire but no
 * tree of ours can reach them, so they are rejected as a bad request.
 */
export function toSafeNumber(name: string, value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new AsciiError(`key '${name}': number ${value} is too large for this log`);
  }
  return Number(value);
}

/** parseIntField followed by toSafeNumber. */
export function parseSafeIntField(name: string, value: string): number {
  return toSafeNumber(name, parseIntField(name, value));
}

/** Formats a non-negative safe integer (or bigint ≤ 2^63-1) in decimal. */
export function formatInt(value: number | bigint): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`ascii: invalid integer ${value}`);
    return String(value);
  }
  if (value < 0n || value > MAX_ASCII_INT) throw new RangeError(`ascii: integer out of range ${value}`);
  return value.toString();
}

/**
 * Splits a multi-part value (e.g. `leaf=<a> <b> <c>`) on single spaces,
 * requiring exactly `count` parts so that stray or doubled spaces are errors.
 */
export function splitValue(name: string, value: string, count: number): string[] {
  const parts = value.split(' ');
  if (parts.length !== count) {
    throw new AsciiError(`key '${name}': expected ${count} space-separated fields, got ${parts.length}`);
  }
  return parts;
}
