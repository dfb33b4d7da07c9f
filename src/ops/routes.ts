// The operator's endpoints on the internal listener: /metrics (Prometheus
// text), /health (open: a load balancer asks it without the token).
import type { Registry } from 'prom-client';
import type { HttpRequest } from '../http/request.js';
import { normalizePrefix, type Route } from '../http/router.js';
import { INFO_PAGE_CSP, infoPage, STATUS_PAGE_CSP, statusPage, type InfoPageModel } from './pages.js';
import { textReply } from '../http/respond.js';
import type { Health } from './health.js';

export function metricsRoute(registry: Registry): Route {
  return {
    method: 'GET',
    name: 'metrics',
    args: 0,
    handle: async () => textReply(200, await registry.metrics(), { 'content-type': registry.contentType }),
  };
}

export function healthRoute(health: () => Health): Route {
  return {
    method: 'GET',
    name: 'health',
    args: 0,
    open: true,
    handle: () => {
      const h = health();
      return h.ok ? textReply(200, 'ok\n') : textReply(503, `${oneLine(h.reason)}\n`);
    },
  };
}

/** Anything shown in one line: newlines and control characters replaced. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').replace(/[\x00-\x1f\x7f]/g, '?');
}

/** status.json: the status model as JSON (fields in doc/metrics.md). */
export function statusJsonRoute(snapshot: () => object): Route {
  return {
    method: 'GET',
    name: 'status.json',
    args: 0,
    handle: () => textReply(200, `${JSON.stringify(snapshot(), null, 1)}\n`, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }),
  };
}

/** The operator's status page at <url-prefix>/ (internal listener). */
export function statusPageRoute(snapshot: () => Parameters<typeof statusPage>[0]): Route {
  return {
    method: 'GET',
    name: '',
    args: 0,
    handle: () => textReply(200, statusPage(snapshot()), { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': STATUS_PAGE_CSP, 'cache-control': 'no-store' }),
  };
}

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The log's URL as the client reached it: scheme (https when a proxy says so
 * in X-Forwarded-Proto), Host, url-prefix. A Host that is not a plain host
 * name or address is not echoed; the configured endpoint is shown instead.
 */
export function requestLogUrl(req: HttpRequest, fallbackHost: string, prefix: string): string {
  const host = req.header('x-forwarded-host') ?? req.header('host') ?? '';
  const proto = (req.header('x-forwarded-proto') ?? '').trim().toLowerCase() === 'https' ? 'https' : 'http';
  return `${proto}://${HOST_RE.test(host) ? host : fallbackHost}${normalizePrefix(prefix)}`;
}

/** The public info page at <url-prefix>/ of a primary. */
export function infoPageRoute(model: (req: HttpRequest) => InfoPageModel): Route {
  return {
    method: 'GET',
    name: '',
    args: 0,
    handle: (req) => textReply(200, infoPage(model(req)), { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': INFO_PAGE_CSP }),
  };
}
