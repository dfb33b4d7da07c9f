// Starts a hono app on host:port with @hono/node-server and reports the bound
// address (port 0 picks a free port, which tests use). A DirectHandler, when
// given, sees each request first (see router.ts).
import { getRequestListener, RequestError } from '@hono/node-server';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';
import type { DirectHandler } from './router.js';
import { textReply, toResponse } from './respond.js';
import { ConfigError } from '../errors.js';

export interface RunningServer {
  /** "host:port" actually bound. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

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
  if (err instanceof RequestError) return toResponse(textReply(400, `bad request: ${err.message.replace(/[^\x20-\x7e]+/g, ' ')}\n`));
  console.error(`HTTP adapter error: ${(err as Error)?.stack ?? String(err)}`);
  return toResponse(textReply(500, 'internal server error\n'));
}

export function startServer(app: Hono, endpoint: string, direct?: DirectHandler): Promise<RunningServer> {
  const { host, port } = splitEndpoint(endpoint);
  const viaHono = getRequestListener(app.fetch, { hostname: host, errorHandler: refusedByAdapter });
  const server = createServer(
    direct === undefined
      ? viaHono
      : (incoming, outgoing) => {
          if (!direct(incoming, outgoing)) void viaHono(incoming, outgoing);
        },
  );
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
