// Reads a request body with a hard size cap, so a 10 MB body is refused with
// 413 after at most `limit` bytes, never buffered whole.
import type { Context } from 'hono';
import { BadRequestError, PayloadTooLargeError } from '../errors.js';

export async function readBodyText(c: Context, limit: number): Promise<string> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) {
    throw new PayloadTooLargeError(`request body of ${declared} bytes is larger than the limit of ${limit} bytes`);
  }
  const body = c.req.raw.body;
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw new PayloadTooLargeError(`request body is larger than the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  const bytes = Buffer.concat(chunks);
  const text = bytes.toString('utf8');
  // The ASCII format is ASCII; refuse anything that did not decode cleanly.
  if (!/^[\x00-\x7f]*$/.test(text)) throw new BadRequestError('request body is not ASCII');
  return text;
}
