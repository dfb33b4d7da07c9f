// Answers as plain values, and the one place where errors become answers.
// Every non-2xx body is a single human-readable line; every body is
// text/plain; charset=utf-8 unless a route says otherwise. Handlers return a
// Reply; the HTTP adapters (hono, or node:http for direct routes) write it.
import { LogError, UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { isDiskFull } from '../storage/disk-full.js';

const TEXT = 'text/plain; charset=utf-8';

/** An HTTP answer, independent of the server framework that sends it. */
export interface Reply {
  readonly status: number;
  /** Text, or bytes (tiles) sent as they are. */
  readonly body: string | Uint8Array;
  /** Lower-case names. content-type defaults to text/plain; charset=utf-8. */
  readonly headers?: Readonly<Record<string, string>>;
}

export function textReply(status: number, body: string, headers?: Readonly<Record<string, string>>): Reply {
  return headers === undefined ? { status, body } : { status, body, headers };
}

export function ok(body: string): Reply {
  return { status: 200, body };
}

/** The headers to send with a reply: its own, with the default content-type and an exact content-length. */
export function replyHeaders(reply: Reply): Record<string, string> {
  return { 'content-type': TEXT, ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) };
}

/** A reply as a web Response (for hono). */
export function toResponse(reply: Reply): Response {
  return new Response(reply.body, { status: reply.status, headers: replyHeaders(reply) });
}

/**
 * Maps a thrown value to a reply; unexpected errors are logged and become
 * 500. `what` names the request in the log; it may hold client text (a
 * decoded path), so control characters are escaped: no forged log lines.
 */
export function errorReply(thrown: unknown, log: Logger, request: string): Reply {
  const what = JSON.stringify(request).slice(1, -1);
  // A full disk is the node's condition, not a bug: retry later (logged where the write failed).
  const err = isDiskFull(thrown) ? new UnavailableError('the log\'s disk is full; retry later', 5) : thrown;
  if (err instanceof LogError) {
    const line = err.message.replace(/\s*\n\s*/g, ' ').replace(/[\x00-\x1f\x7f]/g, '?');
    const headers: Record<string, string> = {};
    if (err instanceof UnavailableError) headers['retry-after'] = String(err.retryAfterSeconds);
    if (err.status === 405 && 'allow' in err) headers.allow = String((err as { allow: unknown }).allow);
    log.debug(`${what}: ${err.status} ${line}`);
    return textReply(err.status, line + '\n', headers);
  }
  log.error(`${what}: internal error: ${(err as Error)?.stack ?? String(err)}`);
  return textReply(500, 'internal server error\n');
}
