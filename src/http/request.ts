// What a route handler sees of a request, independent of the server
// framework: hono for most endpoints, node:http directly for add-leaf (see
// router.ts). Both views of one request give the same answers.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
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
  /**
   * Who sent the request, for per-client bounds: the peer's IPv4 address, or
   * the /64 prefix of its IPv6 address (one subscriber's allocation, so that
   * a client cannot multiply its share by using more of its addresses).
   */
  readonly client: string;
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

const CLIENT = Symbol('client key');
type KeyedSocket = Socket & { [CLIENT]?: string };

/** The client key of a connection, computed once per connection. */
export function socketClient(socket: Socket | undefined): string {
  if (socket === undefined) return '';
  const keyed = socket as KeyedSocket;
  return (keyed[CLIENT] ??= clientKey(socket.remoteAddress ?? ''));
}

/** "192.0.2.1" → itself; "::ffff:192.0.2.1" → "192.0.2.1"; "2001:db8:1:2:3::4" → "2001:db8:1:2::/64". */
export function clientKey(address: string): string {
  if (!address.includes(':')) return address;
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped !== null) return mapped[1] as string;
  const zone = lower.indexOf('%');
  const bare = zone < 0 ? lower : lower.slice(0, zone);
  const gap = bare.indexOf('::');
  let groups: string[];
  if (gap < 0) {
    groups = bare.split(':');
  } else {
    const head = bare.slice(0, gap) === '' ? [] : bare.slice(0, gap).split(':');
    const tail = bare.slice(gap + 2) === '' ? [] : bare.slice(gap + 2).split(':');
    groups = [...head, ...new Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  }
  return `${groups
    .slice(0, 4)
    .map((g) => (g === '' ? '0' : g.replace(/^0+(?=.)/, '')))
    .join(':')}::/64`;
}

/** A request read straight from node:http. */
export function nodeRequest(incoming: IncomingMessage): HttpRequest {
  return {
    method: incoming.method ?? 'GET',
    path: targetPath(incoming.url ?? '/'),
    client: socketClient(incoming.socket),
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
    client: socketClient(incoming?.socket),
    header: (name) => c.req.header(name),
    body: async (limit) => {
      checkDeclaredLength(c.req.header('content-length'), limit);
      // Reading the node request directly skips building a web ReadableStream.
      if (incoming !== undefined) return readNodeBody(incoming, limit, () => tooLarge(limit));
      return readStreamCapped(c.req.raw.body, limit, () => tooLarge(limit));
    },
  };
}
