// The operator's endpoints on the internal listener: /metrics (Prometheus
// text), /health (open: a load balancer asks it without the token).
import type { Registry } from 'prom-client';
import type { Route } from '../http/router.js';
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
