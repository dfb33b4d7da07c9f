// The witness's HTTP interface (tlog-witness.md): POST add-checkpoint, and
// GET <origin hash>/checkpoint for monitors.
import { Hono } from 'hono';
import { NotFoundError } from '../errors.js';
import { readBodyBytes } from '../http/body.js';
import type { Logger } from '../log.js';
import { errorResponse, ok, textResponse } from '../http/respond.js';
import { MethodNotAllowed, normalizePrefix } from '../http/router.js';
import { ConflictError } from './errors.js';
import { formatTlogSize, TLOG_SIZE_CONTENT_TYPE } from './protocol.js';
import type { Witness } from './witness.js';

/** 63 proof lines and a checkpoint with the 100 signatures a note may carry fit well within this. */
export const MAX_ADD_CHECKPOINT_BODY = 64 * 1024;

const ORIGIN_HASH_RE = /^[0-9a-f]{64}$/;

export function witnessApp(witness: Witness, prefix: string, log: Logger): Hono {
  const base = normalizePrefix(prefix);
  const app = new Hono();
  app.all('*', async (c) => {
    const what = `${c.req.method} ${c.req.path}`;
    try {
      const path = c.req.path;
      if (!path.startsWith(base + '/')) throw new NotFoundError('not found');
      const rest = path.slice(base.length + 1);
      if (rest === 'add-checkpoint') {
        if (c.req.method !== 'POST') throw new MethodNotAllowed('POST');
        return addCheckpoint(witness, new Uint8Array(await readBodyBytes(c, MAX_ADD_CHECKPOINT_BODY)));
      }
      const m = /^([^/]+)\/checkpoint$/.exec(rest);
      if (m !== null && ORIGIN_HASH_RE.test(m[1]!)) {
        if (c.req.method !== 'GET' && c.req.method !== 'HEAD') throw new MethodNotAllowed('GET');
        const note = witness.latestCheckpoint(m[1]!);
        if (note === undefined) throw new NotFoundError('no checkpoint cosigned for this log');
        return ok(note);
      }
      throw new NotFoundError('not found');
    } catch (err) {
      if (err instanceof ConflictError) {
        return new Response(formatTlogSize(err.size), { status: 409, headers: { 'content-type': TLOG_SIZE_CONTENT_TYPE } });
      }
      return errorResponse(err, log, what);
    }
  });
  return app;
}

function addCheckpoint(witness: Witness, body: Uint8Array): Response {
  return textResponse(200, witness.addCheckpoint(body));
}
