// log-go's HTTP server metrics (sigsum_log_go_http_req, _rsp, _latency),
// counted in plain numbers on the request path and turned into Prometheus
// samples only when /metrics is scraped.
//
// Why not prom-client's counters directly: a labelled child from
// `counter.labels(...)` still builds its label-hash string and validates the
// labels on every inc() and observe() (prom-client 15, lib/counter.js and
// lib/histogram.js). Here a request costs two field increments, a Map lookup
// by status number and a bucket search over 17 numbers; no string and no
// object is made per request.
import type { RouteCounter, RouteInstrumentation } from '../http/router.js';
import type { Family } from './exposition.js';

/** log-go's buckets (internal/metrics): 1 ms to 10 s, about 10^(1/4) apart. */
export const LATENCY_BUCKETS: readonly number[] = [1e-3, 2e-3, 3e-3, 6e-3, 10e-3, 20e-3, 30e-3, 60e-3, 0.1, 0.2, 0.3, 0.6, 1, 2, 3, 6, 10];

/** Responses of one endpoint with one status: a count and a latency histogram. */
export class StatusStats {
  count = 0;
  sum = 0;
  /** Non-cumulative: buckets[i] counts latencies in (bound[i-1], bound[i]]; the last slot is +Inf. */
  readonly buckets: number[] = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
    (this.buckets[i] as number)++;
  }
}

/** One endpoint's requests and responses. */
export class EndpointStats implements RouteCounter {
  requests = 0;
  readonly byStatus = new Map<number, StatusStats>();

  constructor(readonly endpoint: string) {}

  request(): void {
    this.requests++;
  }

  response(status: number, seconds: number): void {
    let s = this.byStatus.get(status);
    if (s === undefined) {
      s = new StatusStats();
      this.byStatus.set(status, s);
    }
    s.observe(seconds);
  }

  /** Responses with this status so far (0 when none). */
  responses(status: number): number {
    return this.byStatus.get(status)?.count ?? 0;
  }
}

/**
 * log-go's `endpoint` label: sigsum-go's server labels a request with the
 * Endpoint constant it was registered under, and those of the endpoints that
 * take path arguments end in a slash ("get-leaves/", "get-inclusion-proof/",
 * "get-consistency-proof/"); the others do not ("add-leaf", "get-tree-head",
 * "get-secondary-tree-head").
 */
export function endpointLabel(name: string, args: number | 'rest'): string {
  return args === 'rest' || args > 0 ? `${name}/` : name;
}

/** The endpoints a node counts, shared by every dispatcher serving them (hono and direct). */
export class HttpMetrics implements RouteInstrumentation {
  private readonly byLabel = new Map<string, EndpointStats>();

  /** @param counted route names to count; any other route (pages, /metrics itself, the internal read side) is not. */
  constructor(private readonly counted: ReadonlySet<string>) {}

  forRoute(route: { name: string; args: number | 'rest' }): RouteCounter | undefined {
    if (!this.counted.has(route.name)) return undefined;
    return this.endpoint(endpointLabel(route.name, route.args));
  }

  /** The stats of an endpoint by its label, created at first use. */
  endpoint(label: string): EndpointStats {
    let s = this.byLabel.get(label);
    if (s === undefined) {
      s = new EndpointStats(label);
      this.byLabel.set(label, s);
    }
    return s;
  }

  all(): EndpointStats[] {
    return [...this.byLabel.values()];
  }
}

/** log-go's three HTTP families over a table of endpoint counters. */
export function httpFamilies(http: HttpMetrics): Family[] {
  return [
    {
      name: 'sigsum_log_go_http_req',
      help: 'number of http requests (log-go)',
      type: 'counter',
      samples: () => http.all().map((e) => ({ labels: { endpoint: e.endpoint }, value: e.requests })),
    },
    {
      name: 'sigsum_log_go_http_rsp',
      help: 'number of http responses, by status (log-go)',
      type: 'counter',
      samples: () => http.all().flatMap((e) => [...e.byStatus.entries()].map(([status, st]) => ({ labels: { endpoint: e.endpoint, status: String(status) }, value: st.count }))),
    },
    {
      name: 'sigsum_log_go_http_latency',
      help: 'http request-response latency in seconds (log-go)',
      type: 'histogram',
      samples: () => http.all().flatMap((e) => [...e.byStatus.entries()].map(([status, stats]) => ({ labels: { endpoint: e.endpoint, status: String(status) }, stats }))),
    },
  ];
}
