// A deliberately small router shared by the public and internal APIs. It
// gives exact control over the answers log-go gives for near misses: unknown
// endpoint → 404, wrong method → 405 with Allow, wrong number of path
// arguments for a known endpoint → 400.
import { Hono, type Context } from 'hono';
import { BadRequestError, LogError, NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import { errorResponse } from './respond.js';

export class MethodNotAllowed extends LogError {
  readonly status = 405;
  constructor(readonly allow: string) {
    super(`method not allowed; use ${allow}`);
  }
}

export interface Route {
  method: 'GET' | 'POST';
  /** Endpoint name, e.g. "get-leaves". */
  name: string;
  /** Number of "/"-separated arguments after the name. */
  args: number;
  handle(c: Context, args: string[]): Response | Promise<Response>;
}

/** Normalizes a url-prefix to "" or "/segment[/segment...]" without trailing slash. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : '/' + trimmed;
}

export interface AppOptions {
  /** Answers every request instead of routing (e.g. a secondary's public API). */
  fallback?: (c: Context) => Response;
  /** Runs before routing; throws to refuse the request (e.g. a missing bearer token). */
  guard?: (c: Context) => void;
}

export function buildApp(routes: readonly Route[], prefix: string, log: Logger, opts: AppOptions = {}): Hono {
  const base = normalizePrefix(prefix);
  const byName = new Map<string, Route>();
  for (const r of routes) byName.set(r.name, r);
  const app = new Hono();
  app.all('*', async (c) => {
    const what = `${c.req.method} ${c.req.path}`;
    try {
      if (opts.fallback !== undefined) return opts.fallback(c);
      opts.guard?.(c);
      const path = c.req.path;
      if (!(path.startsWith(base + '/'))) throw new NotFoundError(`unknown endpoint ${truncate(path)}`);
      const parts = path.slice(base.length + 1).split('/');
      const name = parts[0] as string;
      const route = byName.get(name);
      if (route === undefined) throw new NotFoundError(`unknown endpoint ${truncate(path)}`);
      const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
      if (method !== route.method) throw new MethodNotAllowed(route.method);
      const args = parts.slice(1);
      if (args.length !== route.args || args.some((a) => a === '')) {
        throw new BadRequestError(
          route.args === 0 ? `${name} takes no path arguments` : `${name} takes ${route.args} path arguments`,
        );
      }
      return await route.handle(c, args.map(decodeSegment));
    } catch (err) {
      return errorResponse(err, log, what);
    }
  });
  return app;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new BadRequestError(`malformed percent-encoding in "${truncate(s)}"`);
  }
}

function truncate(s: string): string {
  return s.length > 80 ? s.slice(0, 80) + '…' : s;
}
