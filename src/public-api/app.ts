// The five Sigsum v1 endpoints (log.md), as a hono app over a PublicLog.
// Range checks against the published tree head live in the PublicLog; this
// layer only turns paths and bodies into typed requests and results into ASCII.
import type { Hono } from 'hono';
import { BadRequestError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Hash } from '../types.js';
import type { AddLeafRequest } from '../formats/messages.js';
import {
  formatConsistencyProof,
  formatCosignedTreeHead,
  formatInclusionProof,
  formatEncodedLeaves,
  parseAddLeafRequest,
} from '../formats/messages.js';
import type { CosignedTreeHead } from '../formats/tree-head.js';
import { readBodyText } from '../http/body.js';
import { parseHashParam, parseIndexParam, parseRangeParams } from '../http/params.js';
import { ok, textReply } from '../http/respond.js';
import { buildApp, directHandler, type DirectHandler, type Route, type RouteInstrumentation } from '../http/router.js';

/** What the public API needs from a log; declared here, by its consumer. */
export interface PublicLog {
  /** The newest published (signed, replicated, cosigned as policy requires) tree head. */
  cosignedTreeHead(): CosignedTreeHead;
  /** Throws BadRequestError for size beyond the published head, NotFoundError for a leaf not in it. */
  inclusionProof(size: number, leafHash: Hash): { leafIndex: number; path: Hash[] };
  /** Throws BadRequestError for newSize beyond the published head. */
  consistencyProof(oldSize: number, newSize: number): Hash[];
  /** Encoded 128-byte leaves [start, end) with end ≤ published size, clamped to max-range. */
  leaves(start: number, end: number): Uint8Array[];
  /**
   * Resolves true when the leaf is in the published tree (200), false when
   * accepted but not yet (202). `client` is the sender's address key
   * (HttpRequest.client), for per-client bounds.
   */
  addLeaf(request: AddLeafRequest, tokenHeader: string | undefined, client: string): Promise<boolean>;
}

/** add-leaf bodies are about 300 bytes; anything far larger is not a Sigsum request. */
export const MAX_ADD_LEAF_BODY = 4096;

// sigsum-submit requires an empty body with 200.
const PUBLISHED = textReply(200, '');
const ACCEPTED = textReply(202, 'Accepted\n');

export function publicRoutes(log: PublicLog): Route[] {
  return [
    {
      method: 'GET',
      name: 'get-tree-head',
      args: 0,
      handle: () => ok(formatCosignedTreeHead(log.cosignedTreeHead())),
    },
    {
      method: 'GET',
      name: 'get-inclusion-proof',
      args: 2,
      handle: (_c, [sizeText, hashText]) => {
        const size = parseIndexParam('tree size', sizeText as string);
        const leafHash = parseHashParam('leaf hash', hashText as string);
        if (size < 2) throw new BadRequestError(`tree size ${size} must be at least 2 (a tree of size 1 needs no inclusion proof)`);
        return ok(formatInclusionProof(log.inclusionProof(size, leafHash)));
      },
    },
    {
      method: 'GET',
      name: 'get-consistency-proof',
      args: 2,
      handle: (_c, [oldText, newText]) => {
        const oldSize = parseIndexParam('old size', oldText as string);
        const newSize = parseIndexParam('new size', newText as string);
        if (oldSize < 1) throw new BadRequestError(`old size ${oldSize} must be at least 1`);
        if (newSize <= oldSize) throw new BadRequestError(`new size ${newSize} must be larger than old size ${oldSize}`);
        return ok(formatConsistencyProof(log.consistencyProof(oldSize, newSize)));
      },
    },
    {
      method: 'GET',
      name: 'get-leaves',
      args: 2,
      handle: (_c, [startText, endText]) => {
        const { start, end } = parseRangeParams(startText as string, endText as string);
        return ok(formatEncodedLeaves(log.leaves(start, end)));
      },
    },
    {
      method: 'POST',
      name: 'add-leaf',
      args: 0,
      direct: true, // the hot path: see router.ts
      handle: async (req) => {
        const request = parseAddLeafRequest(await readBodyText(req, MAX_ADD_LEAF_BODY));
        const published = await log.addLeaf(request, req.header('sigsum-token'), req.client);
        return published ? PUBLISHED : ACCEPTED;
      },
    },
  ];
}

/** The public API as a hono app, and its direct route (add-leaf) for startServer. */
export function publicApp(
  log: PublicLog,
  prefix: string,
  logger: Logger,
  opts: { instrument?: RouteInstrumentation; extraRoutes?: readonly Route[] } = {},
): { app: Hono; direct: DirectHandler | undefined } {
  const routes = [...publicRoutes(log), ...(opts.extraRoutes ?? [])];
  const appOpts = { instrument: opts.instrument };
  return { app: buildApp(routes, prefix, logger, appOpts), direct: directHandler(routes, prefix, logger, appOpts) };
}

/** A secondary's public listener: every request is 404 "not primary". */
export function notPrimaryApp(logger: Logger): Hono {
  return buildApp([], '', logger, { fallback: () => textReply(404, 'not primary\n') });
}
