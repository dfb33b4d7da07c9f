// Starts a hono app on host:port with @hono/node-server and reports the bound
// address (port 0 picks a free port, which tests use). A DirectHandler, when
// given, sees each request first (see router.ts).
//
// Every listener is bounded (HttpLimits): a request head and a whole request
// must arrive within their timeouts (a slowloris client is cut off), open
// connections are capped, and one connection may have only so many requests
// in progress at once (pipelining). Requests node:http refuses before routing
// (a malformed head, a missing or repeated Host) get the same one-line
// text/plain answer as every other refusal.
import { getRequestListener, RequestError } from '@hono/node-server';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Hono } from 'hono';
import type { DirectHandler } from './router.js';
import { replyHeaders, textReply, toResponse, type Reply } from './respond.js';
import { ConfigError } from '../errors.js';

export interface RunningServer {
  /** "host:port" actually bound. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The bounds of one listener; config keys headers-timeout, request-timeout, max-connections, max-pipelined-requests. */
export interface HttpLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxPipelinedRequests: number;
}

/** The defaults of the config keys (src/config/config.ts). */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  maxConnections: 2048,
  maxPipelinedRequests: 16,
};

export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(endpoint);
  if (m === null) throw new ConfigError(`endpoint "${endpoint}" is not host:port`);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`endpoint "${endpoint}": port out of range`);
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/**
 * @hono/node-server refuses some requests before hono sees them (a malformed
 * Host header, a backslash in the path) with an empty 400; give them the
 * one-line message every other error has. Our apps never throw, so anything
 * else is a bug: 500, and the stack on stderr.
 */
function refusedByAdapter(err: unknown): Response {
  if (err instanceof RequestError) return toResponse(textReply(400, `bad request: ${oneLine(err.message)}\n`));
  console.error(`HTTP adapter error: ${(err as Error)?.stack ?? String(err)}`);
  return toResponse(textReply(500, 'internal server error\n'));
}

function oneLine(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, ' ').trim();
}

/** Requests whose handlers have not answered yet, per connection (a property: no lookup per request). */
const IN_PROGRESS = Symbol('requests in progress');
type CountedSocket = Socket & { [IN_PROGRESS]?: number };

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * The answer to a request node:http refused while parsing it, as raw bytes
 * (there is no ServerResponse for it). llhttp's `reason` names the problem
 * ("Invalid header value char", "Duplicate Content-Length", ...).
 */
export function clientErrorAnswer(err: NodeJS.ErrnoException & { reason?: string }, limits: HttpLimits): string {
  let status = 400;
  let message: string;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'request head too large: request line and headers must fit in 16 KiB';
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = `request timeout: the request head must arrive within ${limits.headersTimeoutMs} ms and the whole request within ${limits.requestTimeoutMs} ms`;
  } else {
    const reason = oneLine(err.reason ?? err.message ?? 'malformed request');
    message = `bad request: ${reason === '' ? 'malformed request' : reason}`;
  }
  const body = `${message}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n` +
    'content-type: text/plain; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n\r\n' +
    body
  );
}

function send(outgoing: ServerResponse, reply: Reply): void {
  outgoing.writeHead(reply.status, replyHeaders(reply));
  outgoing.end(reply.body);
}

/**
 * A request node:http accepted but we refuse: HTTP/0.9, or, as RFC 9112
 * says, HTTP/1.1 without Host,
 * or more than one Host (node keeps the first and drops the rest). Returns
 * the refusal, or undefined for a good request. rawHeaders holds a handful
 * of names; scanning it is cheaper than the headers object node builds.
 */
function headProblem(incoming: IncomingMessage): string | undefined {
  // llhttp takes a request line without a version as HTTP/0.9.
  if (incoming.httpVersionMajor !== 1) return `bad request: HTTP/${incoming.httpVersion} is not supported; use HTTP/1.1`;
  const raw = incoming.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts === 1) return undefined;
  if (hosts > 1) return 'bad request: more than one Host header';
  return incoming.httpVersion === '1.0' ? undefined : 'bad request: missing Host header';
}

export function startServer(app: Hono, endpoint: string, direct?: DirectHandler, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Promise<RunningServer> {
  const { host, port } = splitEndpoint(endpoint);
  const viaHono = getRequestListener(app.fetch, { hostname: host, errorHandler: refusedByAdapter });
  const maxInProgress = limits.maxPipelinedRequests;
  const busy = textReply(503, `too many requests in progress on this connection (at most ${maxInProgress}); wait for the answers before sending more\n`, {
    'retry-after': '1',
  });
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // How often node checks the two timeouts: a slowloris is cut off within
      // the timeout plus this.
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      // Checked below, to answer with our message rather than an empty 400.
      requireHostHeader: false,
    },
    (incoming, outgoing) => {
      const socket = incoming.socket as CountedSocket;
      const inProgress = socket[IN_PROGRESS] ?? 0;
      if (inProgress >= maxInProgress) {
        // Not routed: the handler's work (a signature check) is what the bound saves.
        send(outgoing, busy);
        return;
      }
      const problem = headProblem(incoming);
      if (problem !== undefined) {
        send(outgoing, textReply(400, `${problem}\n`, { connection: 'close' }));
        return;
      }
      socket[IN_PROGRESS] = inProgress + 1;
      const answered = (): void => {
        socket[IN_PROGRESS] = (socket[IN_PROGRESS] as number) - 1;
      };
      if (direct !== undefined && direct(incoming, outgoing, answered)) return;
      viaHono(incoming, outgoing).then(answered, answered);
    },
  );
  server.maxConnections = limits.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: CountedSocket) => {
    // A reset or a write to a closed socket: nobody to answer.
    if (!socket.writable || err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      socket.destroy();
      return;
    }
    // With an answer still being written on this connection, bytes of our
    // own would corrupt it: close instead (as node does).
    if ((socket[IN_PROGRESS] ?? 0) !== 0) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorAnswer(err, limits));
    // Closing at once could reset the answer away while the client still
    // sends; a client that never closes is closed after a moment.
    setTimeout(() => socket.destroy(), 500).unref();
  });
  return new Promise((resolvePromise, reject) => {
    const onError = (err: Error): void => reject(new ConfigError(`cannot listen on ${endpoint}: ${err.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const info = server.address() as AddressInfo;
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolvePromise({
        address: `${shownHost}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Idle keep-alive connections would hold close() open.
            server.closeAllConnections();
          }),
      });
    });
  });
}
