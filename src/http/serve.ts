// Starts a hono app on host:port with @hono/node-server and reports the bound
// address (port 0 picks a free port, which tests use).
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';
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

export function startServer(app: Hono, endpoint: string): Promise<RunningServer> {
  const { host, port } = splitEndpoint(endpoint);
  return new Promise((resolvePromise, reject) => {
    let server: ServerType;
    const onError = (err: Error): void => reject(new ConfigError(`cannot listen on ${endpoint}: ${err.message}`));
    server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      server.off('error', onError);
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolvePromise({
        address: `${shownHost}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Idle keep-alive connections would hold close() open.
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once('error', onError);
  });
}
