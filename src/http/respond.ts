// The one place where errors become HTTP responses. Every non-2xx body is a
// single human-readable line; every body is text/plain; charset=utf-8.
import { LogError, UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';

const TEXT = 'text/plain; charset=utf-8';

export function textResponse(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': TEXT, ...headers } });
}

export function ok(body: string): Response {
  return textResponse(200, body);
}

/** Maps a thrown value to a response; unexpected errors are logged and become 500. */
export function errorResponse(err: unknown, log: Logger, what: string): Response {
  if (err instanceof LogError) {
    const line = err.message.replace(/\s*\n\s*/g, ' ');
    const headers: Record<string, string> = {};
    if (err instanceof UnavailableError) headers['retry-after'] = String(err.retryAfterSeconds);
    if (err.status === 405 && 'allow' in err) headers.allow = String((err as { allow: unknown }).allow);
    log.debug(`${what}: ${err.status} ${line}`);
    return textResponse(err.status, line + '\n', headers);
  }
  log.error(`${what}: internal error: ${(err as Error)?.stack ?? String(err)}`);
  return textResponse(500, 'internal server error\n');
}
