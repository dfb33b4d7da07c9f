// HTTP requests with the path sent exactly as given (fetch would normalize
// "..", which path-traversal tests must not have done for them).
import { request } from 'node:http';
import { connect } from 'node:net';

export function rawRequest(
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on('error', (err) => {
      // A server may answer 413 before the whole body was sent; the response
      // can still arrive after a write error, but not forever.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'ECONNRESET') {
        setTimeout(() => reject(new Error(`${code} and no response within 5 s`)), 5000).unref();
        return;
      }
      reject(err);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything received, for messages. */
  raw: string;
}

/**
 * Writes bytes exactly as given on a fresh TCP connection and reads one
 * HTTP/1.1 answer (content-length framed) or whatever came until the
 * server closed the connection. For requests node's client refuses to send.
 */
export function rawExchange(port: number, bytes: string | Buffer, opts: { timeoutMs?: number; localAddress?: string } = {}): Promise<RawAnswer> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) });
    let data = Buffer.alloc(0);
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== undefined) {
        reject(err);
        return;
      }
      const answer = parseAnswer(data);
      if (answer === undefined) reject(new Error(`no complete HTTP answer: ${JSON.stringify(data.toString('latin1'))}`));
      else resolve(answer);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(data.toString('latin1'))}`)), timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      if (parseAnswer(data) !== undefined) finish();
    });
    socket.on('error', () => undefined); // a reset after the answer is fine; no answer is reported on close
    socket.on('close', () => finish());
  });
}

/** One HTTP answer at the start of `data`, or undefined while incomplete. */
export function parseAnswer(data: Buffer): RawAnswer | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = data.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (m === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (data.length < end + 4 + length) return undefined;
  const body = data.subarray(end + 4, end + 4 + length).toString('utf8');
  return { status: Number(m[1]), headers, body, raw: data.subarray(0, end + 4 + length).toString('latin1') };
}
