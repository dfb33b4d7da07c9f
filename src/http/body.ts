// Reads a request body with a hard size cap, so a 10 MB body is refused with
// 413 after at most `limit` bytes, never buffered whole.
import type { IncomingMessage } from 'node:http';
import { BadRequestError } from '../errors.js';
import type { HttpRequest } from './request.js';

/** The request body as ASCII text (Sigsum's key=value format), capped at `limit`. */
export async function readBodyText(req: HttpRequest, limit: number): Promise<string> {
  const text = (await req.body(limit)).toString('latin1');
  // The ASCII format is ASCII; refuse anything else.
  if (!/^[\x00-\x7f]*$/.test(text)) throw new BadRequestError('request body is not ASCII');
  return text;
}

/** Reads a node request body to its end, or rejects with `tooLarge()` once more than `limit` bytes arrived. */
export function readNodeBody(incoming: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
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
        // Answer 413 at once. The rest of the body is left to whoever sends
        // the answer: both adapters discard it, bounded, before closing
        // (discardRestOfBody below; @hono/node-server's own drain).
        cleanup();
        incoming.on('error', () => undefined);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
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

/**
 * Reads a web stream (a request or response body) to its end, or throws
 * `tooLarge()` as soon as more than `limit` bytes arrived.
 */
export async function readStreamCapped(body: ReadableStream<Uint8Array> | null, limit: number, tooLarge: () => Error): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

const DISCARD_TIMEOUT_MS = 500;
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

/**
 * After an answer sent before the request body was read to its end (a 413):
 * keep reading and discarding for a while, since closing a socket with unread
 * data makes the kernel send a reset that can destroy the answer before the
 * client reads it; then close. Bounded in bytes and time, as @hono/node-server
 * does for the routes it serves.
 */
export function discardRestOfBody(incoming: IncomingMessage): void {
  let discarded = 0;
  const close = (): void => {
    cleanup();
    incoming.socket?.destroySoon();
  };
  const timer = setTimeout(close, DISCARD_TIMEOUT_MS);
  timer.unref();
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARD_BYTES) close();
  };
  const cleanup = (): void => {
    clearTimeout(timer);
    incoming.off('data', onData);
    incoming.off('end', cleanup);
    incoming.off('error', cleanup);
  };
  incoming.on('data', onData);
  incoming.on('end', cleanup);
  incoming.on('error', cleanup);
  incoming.resume();
}
