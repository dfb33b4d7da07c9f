// The witness's HTTP interface (tlog-witness.md): POST add-checkpoint, and
// GET <origin hash>/checkpoint for monitors.
import { Hono } from 'hono';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import { honoRequest, type HttpRequest } from '../http/request.js';
import { errorReply, ok, textReply, toResponse, type Reply } from '../http/respond.js';
import { MethodNotAllowed, normalizePrefix } from '../http/router.js';
import { ConflictError } from './errors.js';
import { formatTlogSize, TLOG_SIZE_CONTENT_TYPE } from './protocol.js';
import type { Witness } from './witness.js';
import type { Registry } from 'prom-client';
import type { EndpointStats } from '../ops/http-metrics.js';

/** The witness's own /metrics: the registry to serve, and the add-checkpoint counters it reads. */
export interface WitnessMetrics {
  registry: Registry;
  addCheckpoint: EndpointStats;
}

/** 63 proof lines and a checkpoint with the 100 signatures a note may carry fit well within this. */
export const MAX_ADD_CHECKPOINT_BODY = 64 * 1024;

const ORIGIN_HASH_RE = /^[0-9a-f]{64}$/;

export function witnessApp(witness: Witness, prefix: string, log: Logger, metrics?: WitnessMetrics): Hono {
  const base = normalizePrefix(prefix);
  const app = new Hono();
  app.all('*', async (c) => toResponse(await answer(witness, base, honoRequest(c), log, metrics)));
  return app;
}

async function answer(witness: Witness, base: string, req: HttpRequest, log: Logger, metrics: WitnessMetrics | undefined): Promise<Reply> {
  try {
    const path = req.path;
    if (!path.startsWith(base + '/')) throw new NotFoundError('not found');
    const rest = path.slice(base.length + 1);
    if (rest === 'add-checkpoint') {
      if (req.method !== 'POST') throw new MethodNotAllowed('POST');
      if (metrics === undefined) return await addCheckpoint(witness, req, log);
      metrics.addCheckpoint.request();
      const started = performance.now();
      const reply = await addCheckpoint(witness, req, log);
      metrics.addCheckpoint.response(reply.status, (performance.now() - started) / 1000);
      return reply;
    }
    if (rest === 'metrics' && metrics !== undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowed('GET');
      return textReply(200, await metrics.registry.metrics(), { 'content-type': metrics.registry.contentType });
    }
    const m = /^([^/]+)\/checkpoint$/.exec(rest);
    if (m !== null && ORIGIN_HASH_RE.test(m[1]!)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowed('GET');
      const note = witness.latestCheckpoint(m[1]!);
      if (note === undefined) throw new NotFoundError('no checkpoint cosigned for this log');
      return ok(note);
    }
    throw new NotFoundError('not found');
  } catch (err) {
    return errorReply(err, log, `${req.method} ${req.path}`);
  }
}

/** add-checkpoint's answer, a 409 with the witness's size included; never rejects. */
async function addCheckpoint(witness: Witness, req: HttpRequest, log: Logger): Promise<Reply> {
  try {
    return textReply(200, await witness.addCheckpoint(new Uint8Array(await req.body(MAX_ADD_CHECKPOINT_BODY))));
  } catch (err) {
    if (err instanceof ConflictError) {
      return textReply(409, formatTlogSize(err.size), { 'content-type': TLOG_SIZE_CONTENT_TYPE });
    }
    return errorReply(err, log, `${req.method} ${req.path}`);
  }
}
