// The node-to-node API (internal-endpoint). ASCII key=value like the public
// API. Both roles serve the read side (get-tree-head-unsigned, get-leaves,
// get-tree-head) so a fresh node can replicate from a secondary as from a
// primary; a secondary also serves its own signed head to the primary.
// This API must not be exposed publicly: it serves leaves that are not yet
// published. An optional shared bearer token is checked on every request.
import { timingSafeEqual } from 'node:crypto';
import type { Hono } from 'hono';
import { BadRequestError, ForbiddenError, LogError, NotFoundError } from '../errors.js';
import { formatCosignedTreeHead, formatEncodedLeaves, formatSignedTreeHead, formatTreeHead } from '../formats/messages.js';
import type { CosignedTreeHead, SignedTreeHead, TreeHead } from '../formats/tree-head.js';
import type { Logger } from '../log.js';
import { parseRangeParams } from '../http/params.js';
import { ok, type Reply } from '../http/respond.js';
import { acceptsBinaryLeaves, BINARY_LEAVES_TYPE, encodeBinaryLeaves } from './binary-leaves.js';
import { buildApp, type Route, type RouteInstrumentation } from '../http/router.js';

/** What a node offers to nodes replicating from it. */
export interface ReplicationSource {
  /** The local tree head (sequenced or replicated), which may be ahead of the published one. */
  localTreeHead(): TreeHead;
  /** Encoded 128-byte leaves [start, end) with end ≤ local size. */
  leaves(start: number, end: number): Uint8Array[];
  /** The newest published head this node knows, if any. */
  publishedTreeHead(): CosignedTreeHead | undefined;
}

/** A secondary's own signed head, for the primary's replication gate. */
export interface CosignSource {
  treeHeadToCosign(): SignedTreeHead | Promise<SignedTreeHead>;
}

class Unauthorized extends LogError {
  readonly status = 401;
}

export function internalRoutes(source: ReplicationSource, maxRange: number, cosign?: CosignSource): Route[] {
  const routes: Route[] = [
    { method: 'GET', name: 'get-tree-head-unsigned', args: 0, handle: () => ok(formatTreeHead(source.localTreeHead())) },
    {
      method: 'GET',
      name: 'get-leaves',
      args: 2,
      handle: (req, [startText, endText]) => {
        const { start, end } = parseRangeParams(startText as string, endText as string);
        const size = source.localTreeHead().size;
        // log-go's internal semantics: start == size is "at end of tree" (404),
        // start beyond it is a bad request; end is clamped, not refused.
        if (start === size) throw new NotFoundError('at end of tree');
        if (start > size) throw new BadRequestError(`start index ${start} is beyond the local tree (size ${size})`);
        const leaves = source.leaves(start, Math.min(end, size, start + maxRange));
        if (acceptsBinaryLeaves(req.header('accept'))) {
          return { status: 200, body: encodeBinaryLeaves(leaves), headers: { 'content-type': BINARY_LEAVES_TYPE, vary: 'accept' } };
        }
        return ok(formatEncodedLeaves(leaves));
      },
    },
    {
      method: 'GET',
      name: 'get-tree-head',
      args: 0,
      handle: () => {
        const head = source.publishedTreeHead();
        if (head === undefined) throw new NotFoundError('no published tree head known yet');
        return ok(formatCosignedTreeHead(head));
      },
    },
  ];
  if (cosign !== undefined) {
    const handle = async (): Promise<Reply> => ok(formatSignedTreeHead(await cosign.treeHeadToCosign()));
    routes.push({ method: 'GET', name: 'get-tree-head-to-cosign', args: 0, handle });
    // The name today's log-go primary calls, so either implementation can sit on either side.
    routes.push({ method: 'GET', name: 'get-secondary-tree-head', args: 0, handle });
  }
  return routes;
}

/** Routes marked `open` (/health) are served without the token; every other request needs it. */
export function internalApp(routes: Route[], prefix: string, token: string | undefined, log: Logger, instrument?: RouteInstrumentation): Hono {
  if (token === undefined) return buildApp(routes, prefix, log, { instrument });
  const want = Buffer.from(`Bearer ${token}`);
  return buildApp(routes, prefix, log, {
    instrument,
    guard: (req) => {
      const got = Buffer.from(req.header('authorization') ?? '');
      if (got.length === want.length && timingSafeEqual(got, want)) return;
      throw got.length === 0 ? new Unauthorized('missing bearer token') : new ForbiddenError('wrong bearer token');
    },
  });
}
