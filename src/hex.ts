// Hex and base64 helpers. Hex input is case-insensitive; output is lowercase.

const HEX_RE = /^[0-9a-fA-F]*$/;

export class HexError extends Error {}

/** Decodes hex, case-insensitive. Throws HexError on odd length or a non-hex character. */
export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0) throw new HexError('odd-length hex');
  if (!HEX_RE.test(text)) throw new HexError('invalid hex character');
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard (padded) base64 strictly; Buffer.from alone silently skips junk. */
export function fromBase64(text: string): Uint8Array {
  if (!B64_RE.test(text)) throw new HexError('invalid base64');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
