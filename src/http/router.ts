// A deliberately small router shared by the public and internal APIs. It
// gives exact control over the answers log-go gives for near misses: unknown
// endpoint → 404, wrong method → 405 with Allow, wrong number of path
// arguments for a known endpoint → 400.
//
// The router works on HttpRequest and Reply, not on a framework's objects, so
// one route table can be served two ways: through hono (every endpoint), and
// straight from node:http for routes marked `direct` (add-leaf). The direct
// path exists for throughput alone: hono's per-request Request, Context and
// Response objects measured about a third of add-leaf's main-thread CPU (see
// `npm run bench` and doc/design.md). Both paths run the same dispatch code.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono } from 'hono';
import { BadRequestError, LogError, NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import { discardRestOfBody } from './body.js';
import { honoRequest, nodeRequest, type HttpRequest } from './request.js';
import { errorReply, replyHeaders, toResponse, type Reply } from './respond.js';

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
  /**
   * Number of "/"-separated arguments after the name; 'rest': one or more,
   * however many (tile paths), which the handler checks.
   */
  args: number | 'rest';
  /**
   * Served straight from node:http when the request target is exactly
   * `<prefix>/<name>` (no arguments, no query); other targets still go
   * through hono. Only for a hot route; the answers are the same either way.
   */
  direct?: boolean;
  /**
   * Served without the guard (AppOptions.guard), e.g. /health on the internal
   * API, which a load balancer asks without the bearer token. Only for routes
   * without path arguments.
   */
  open?: boolean;
  handle(req: HttpRequest, args: string[]): Reply | Promise<Reply>;
}

/** Normalizes a url-prefix to "" or "/segment[/segment...]" without trailing slash. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : '/' + trimmed;
}

export interface AppOptions {
  /** Answers every request instead of routing (e.g. a secondary's public API). */
  fallback?: (req: HttpRequest) => Reply;
  /** Runs before routing; throws to refuse the request (e.g. a missing bearer token). */
  guard?: (req: HttpRequest) => void;
  /** Counts requests per route (metrics); resolved once per route, not per request. */
  instrument?: RouteInstrumentation;
}

/** Counts one route's requests and answers; declared here, by its caller. */
export interface RouteCounter {
  /** A request reached the route's handler (method and path shape were right). */
  request(): void;
  /** Its answer, and the seconds the handler took. */
  response(status: number, seconds: number): void;
}

/** Gives the counter of a route, or undefined for a route that is not counted. */
export interface RouteInstrumentation {
  forRoute(route: Route): RouteCounter | undefined;
}

/** Routes a request to its handler; every failure becomes an error reply. Never rejects. */
export type Dispatch = (req: HttpRequest) => Promise<Reply>;

export function createDispatch(routes: readonly Route[], prefix: string, log: Logger, opts: AppOptions = {}): Dispatch {
  const base = normalizePrefix(prefix);
  const byName = new Map<string, { route: Route; counter: RouteCounter | undefined }>();
  const openPaths = new Set<string>();
  for (const r of routes) {
    byName.set(r.name, { route: r, counter: opts.instrument?.forRoute(r) });
    if (r.open === true) {
      if (r.args !== 0) throw new Error(`route ${r.name}: only routes without path arguments can be open`);
      openPaths.add(`${base}/${r.name}`);
    }
  }
  return async (req) => {
    try {
      if (opts.fallback !== undefined) return opts.fallback(req);
      const path = req.path;
      if (opts.guard !== undefined && !openPaths.has(path)) opts.guard(req);
      if (!path.startsWith(base + '/')) throw new NotFoundError(`unknown endpoint ${truncate(path)}`);
      const parts = path.slice(base.length + 1).split('/');
      const name = parts[0] as string;
      const entry = byName.get(name);
      if (entry === undefined) throw new NotFoundError(`unknown endpoint ${truncate(path)}`);
      const route = entry.route;
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (method !== route.method) throw new MethodNotAllowed(route.method);
      const args = parts.slice(1);
      if ((route.args === 'rest' ? args.length === 0 : args.length !== route.args) || args.some((a) => a === '')) {
        const shown = name === '' ? `${base}/` : name; // the route at the prefix itself (a page)
        throw new BadRequestError(
          route.args === 'rest'
            ? `${shown} takes path arguments`
            : route.args === 0
              ? `${shown} takes no path arguments`
              : `${shown} takes ${route.args} path arguments`,
        );
      }
      const counter = entry.counter;
      if (counter === undefined) return await route.handle(req, args.map(decodeSegment));
      counter.request();
      const started = performance.now();
      let reply: Reply;
      try {
        reply = await route.handle(req, args.map(decodeSegment));
      } catch (err) {
        reply = errorReply(err, log, `${req.method} ${truncate(req.path)}`);
      }
      counter.response(reply.status, (performance.now() - started) / 1000);
      return reply;
    } catch (err) {
      return errorReply(err, log, `${req.method} ${truncate(req.path)}`);
    }
  };
}

/** The routes as a hono app. */
export function buildApp(routes: readonly Route[], prefix: string, log: Logger, opts: AppOptions = {}): Hono {
  const dispatch = createDispatch(routes, prefix, log, opts);
  const app = new Hono();
  app.all('*', async (c) => toResponse(await dispatch(honoRequest(c))));
  return app;
}

/**
 * Takes a request from node:http if it targets a direct route, answers it
 * and then calls `answered`; returns false for every other request, which
 * the caller hands to hono.
 */
export type DirectHandler = (incoming: IncomingMessage, outgoing: ServerResponse, answered: () => void) => boolean;

/** The direct routes of a table, or undefined when it has none. */
export function directHandler(routes: readonly Route[], prefix: string, log: Logger, opts: AppOptions = {}): DirectHandler | undefined {
  const base = normalizePrefix(prefix);
  const direct = new Map<string, string>(); // exact path → method
  for (const r of routes) {
    if (r.direct !== true) continue;
    if (r.args !== 0) throw new Error(`route ${r.name}: only routes without path arguments can be direct`);
    direct.set(`${base}/${r.name}`, r.method);
  }
  if (direct.size === 0) return undefined;
  const dispatch = createDispatch(routes, prefix, log, opts);
  const hosts = new HostCheck();
  return (incoming, outgoing, answered) => {
    const target = incoming.url ?? '';
    // Anything hono would answer differently (a request it refuses before
    // routing, as for a malformed Host) is left to hono.
    if (direct.get(target) !== incoming.method || !hosts.acceptable(incoming.headers.host, target)) return false;
    dispatch(nodeRequest(incoming))
      .then((reply) => {
        outgoing.writeHead(reply.status, replyHeaders(reply));
        outgoing.end(reply.body);
        if (!incoming.complete) discardRestOfBody(incoming);
      })
      // dispatch never rejects; a failure here is in writing the answer.
      .catch((err: unknown) => {
        log.error(`${incoming.method} ${truncate(target)}: writing the answer failed: ${(err as Error)?.message ?? String(err)}`);
        outgoing.destroy();
      })
      .then(answered);
    return true;
  };
}

/**
 * Whether @hono/node-server would accept a request with this Host header and
 * target, by its own rule: `http://<host><target>` parses as a URL whose
 * hostname is as long as the Host header, or equals it without its port (so
 * "EXAMPLE.org" passes but "EXAMPLE.org:80" and "127.1" do not). Direct
 * targets are plain paths, so the answer depends on the Host value alone and
 * is remembered per value (clients send the same one on every request): the
 * direct path does not parse a URL per request.
 */
class HostCheck {
  private readonly known = new Map<string, boolean>();

  acceptable(host: string | undefined, target: string): boolean {
    if (host === undefined || host === '') return false; // hono substitutes its default: let it
    let ok = this.known.get(host);
    if (ok === undefined) {
      try {
        const url = new URL(`http://${host}${target}`);
        ok = url.hostname.length === host.length || url.hostname === host.replace(/:\d+$/, '');
      } catch {
        ok = false;
      }
      if (this.known.size >= 256) this.known.clear();
      this.known.set(host, ok);
    }
    return ok;
  }
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
