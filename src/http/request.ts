// What a route handler sees of a request, independent of the server
// framework: hono for most endpoints, node:http directly for add-leaf (see
// router.ts). Both views of one request give the same answers.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { PayloadTooLargeError } from '../errors.js';
import { readNodeBody, readStreamCapped } from './body.js';

export interface HttpRequest {
  /** Upper-case, as sent. */
  readonly method: string;
  /**
   * The path without query. From node:http as sent; from hono with
   * percent-escapes decoded except those of reserved characters (hono's
   * decodeURI). Route arguments are decoded once more by the router, which
   * is exact in both cases because hono keeps "%25" escaped.
   */
  readonly path: string;
  /** A header by lower-case name; repeated headers are joined with ", ". */
  header(name: string): string | undefined;
  /**
   * The body, read at most once. Throws PayloadTooLargeError (413) as soon
   * as it is known to exceed `limit` bytes, without buffering the rest.
   */
  body(limit: number): Promise<Buffer>;
}

function tooLarge(limit: number, declared?: string): PayloadTooLargeError {
  return new PayloadTooLargeError(
    declared === undefined
      ? `request body is larger than the limit of ${limit} bytes`
      : `request body of ${declared} bytes is larger than the limit of ${limit} bytes`,
  );
}

function checkDeclaredLength(declared: string | undefined, limit: number): void {
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit, declared);
}

/** The path part of a request target ("/a/b?c" → "/a/b"). */
export function targetPath(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/** A request read straight from node:http. */
export function nodeRequest(incoming: IncomingMessage): HttpRequest {
  return {
    method: incoming.method ?? 'GET',
    path: targetPath(incoming.url ?? '/'),
    header: (name) => {
      const value = incoming.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    body: async (limit) => {
      checkDeclaredLength(incoming.headers['content-length'], limit);
      return readNodeBody(incoming, limit, () => tooLarge(limit));
    },
  };
}

/** A request as hono sees it; under @hono/node-server the node request is used for the body. */
export function honoRequest(c: Context): HttpRequest {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return {
    method: c.req.method,
    path: c.req.path,
    header: (name) => c.req.header(name),
    body: async (limit) => {
      checkDeclaredLength(c.req.header('content-length'), limit);
      // Reading the node request directly skips building a web ReadableStream.
      if (incoming !== undefined) return readNodeBody(incoming, limit, () => tooLarge(limit));
      return readStreamCapped(c.req.raw.body, limit, () => tooLarge(limit));
    },
  };
}
