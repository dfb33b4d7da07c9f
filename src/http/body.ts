// Reads a request body with a hard size cap, so a 10 MB body is refused with
// 413 after at most `limit` bytes, never buffered whole.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { BadRequestError, PayloadTooLargeError } from '../errors.js';

export async function readBodyText(c: Context, limit: number): Promise<string> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) {
    throw new PayloadTooLargeError(`request body of ${declared} bytes is larger than the limit of ${limit} bytes`);
  }
  // Under @hono/node-server the Node request is at hand: reading it directly
  // skips building a web ReadableStream per request (add-leaf's hot path).
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const chunks = incoming !== undefined ? readNode(incoming, limit) : readWeb(c, limit);
  const bytes = Buffer.concat(await chunks);
  const text = bytes.toString('latin1');
  // The ASCII format is ASCII; refuse anything else.
  if (!/^[\x00-\x7f]*$/.test(text)) throw new BadRequestError('request body is not ASCII');
  return text;
}

function tooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`request body is larger than the limit of ${limit} bytes`);
}

function readNode(incoming: IncomingMessage, limit: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        // Stop reading; the 413 response closes the connection, so the rest
        // of the body is never read.
        cleanup();
        incoming.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new BadRequestError(`reading the request body failed: ${err.message}`));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
  });
}

async function readWeb(c: Context, limit: number): Promise<Buffer[]> {
  const body = c.req.raw.body;
  if (body === null) return [];
  const reader = body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(Buffer.from(value));
  }
  return chunks;
}
