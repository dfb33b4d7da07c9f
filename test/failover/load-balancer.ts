// The failover drill's "load balancer": a loopback HTTP reverse proxy in
// front of the log's public API. It forwards to one backend; when that
// backend does not answer (killed, not started yet) it holds the request and
// retries, re-reading the backend each time, until one answers or a bound
// passes. Every answer carries `x-backend`, naming who gave it.
//
// sigsum-monitor gives each poll one interval (here 1 s) for all its
// requests and exits on any failure, so a get-tree-head held through the
// whole failover would kill it. Like a cache serving stale content on
// upstream errors (nginx proxy_cache_use_stale), the balancer answers a held
// get-tree-head with the last one it passed on once it has waited
// `staleTreeHeadAfterMs`: the monitor then sees a head it already checked.
// Nothing else is ever answered from the cache.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

export interface LoadBalancerOptions {
  /** How long a request may be held while no backend answers (then 502). */
  holdMs?: number;
  staleTreeHeadAfterMs?: number;
}

export const STALE = 'stale-cache';

export class LoadBalancer {
  private backend: string;
  private readonly agent = new Agent({ connections: 64, keepAliveTimeout: 1_000 });
  private cachedTreeHead: string | undefined;
  private monitorInFlight = 0;
  private monitorLastDone = 0;
  /** Requests that found no backend answering and were held at least once. */
  held = 0;
  /** get-tree-head requests answered from the cache. */
  staleAnswers = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    backend: string,
    private readonly opts: Required<LoadBalancerOptions>,
  ) {
    this.backend = backend;
  }

  static async start(backend: string, options: LoadBalancerOptions = {}): Promise<LoadBalancer> {
    const opts = { holdMs: options.holdMs ?? 30_000, staleTreeHeadAfterMs: options.staleTreeHeadAfterMs ?? 300 };
    let lb: LoadBalancer | undefined;
    const server = createServer((req, res) => void lb?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    lb = new LoadBalancer(server, `http://127.0.0.1:${port}`, backend, opts);
    return lb;
  }

  /** From now on, requests (held ones included) go to this backend. */
  switchTo(backend: string): void {
    this.backend = backend;
  }

  /**
   * Resolves once sigsum-monitor has no request in flight and has been quiet
   * for `quietMs`: it is between polls, so a backend change now cannot hit
   * it halfway through one.
   */
  async monitorBetweenPolls(quietMs = 100, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.monitorInFlight > 0 || this.monitorLastDone === 0 || Date.now() - this.monitorLastDone < quietMs) {
      if (Date.now() > deadline) throw new Error('sigsum-monitor did not pause between polls');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.agent.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fromMonitor = (req.headers['user-agent'] ?? '').startsWith('sigsum-monitor');
    if (fromMonitor) this.monitorInFlight++;
    try {
      const body = await readBody(req);
      const answer = await this.forward(req.method ?? 'GET', req.url ?? '/', req.headers, body);
      res.writeHead(answer.status, { 'content-type': answer.contentType, 'x-backend': answer.backend });
      res.end(answer.body);
    } catch (err) {
      res.writeHead(502, { 'content-type': 'text/plain', 'x-backend': 'none' });
      res.end(`load balancer: ${(err as Error).message}\n`);
    } finally {
      if (fromMonitor) {
        this.monitorInFlight--;
        this.monitorLastDone = Date.now();
      }
    }
  }

  private async forward(
    method: string,
    path: string,
    headers: IncomingMessage['headers'],
    body: Buffer,
  ): Promise<{ status: number; contentType: string; body: Buffer; backend: string }> {
    const began = Date.now();
    const isTreeHead = method === 'GET' && /\/get-tree-head$/.test(path);
    let lastError = '';
    for (let attempt = 0; ; attempt++) {
      if (attempt === 1) this.held++;
      const backend = this.backend;
      try {
        const res = await request(`${backend}${path}`, {
          method: method as 'GET' | 'POST',
          headers: forwardedHeaders(headers),
          body: method === 'GET' ? undefined : body,
          dispatcher: this.agent,
          signal: AbortSignal.timeout(10_000),
        });
        const answer = Buffer.from(await res.body.arrayBuffer());
        if (isTreeHead && res.statusCode === 200) this.cachedTreeHead = answer.toString('utf8');
        return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? 'text/plain'), body: answer, backend };
      } catch (err) {
        // No answer from this backend (refused, reset, timed out): hold and retry.
        lastError = (err as Error & { code?: string }).code ?? (err as Error).message;
      }
      const waited = Date.now() - began;
      if (isTreeHead && this.cachedTreeHead !== undefined && waited >= this.opts.staleTreeHeadAfterMs) {
        this.staleAnswers++;
        return { status: 200, contentType: 'text/plain; charset=utf-8', body: Buffer.from(this.cachedTreeHead), backend: STALE };
      }
      if (waited > this.opts.holdMs) throw new Error(`no backend answered within ${this.opts.holdMs} ms (last: ${lastError})`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function forwardedHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || ['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
