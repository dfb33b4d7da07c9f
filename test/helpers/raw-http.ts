// HTTP requests with the path sent exactly as given (fetch would normalize
// "..", which path-traversal tests must not have done for them).
import { request } from 'node:http';

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
