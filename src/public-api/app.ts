// The five Sigsum v1 endpoints (log.md) and the tlog-tiles resources, as a
// hono app over the shared reads (reads.ts) and a leaf submitter. Range checks
// against the published tree head live in the reads; this layer only turns
// paths and bodies into typed requests and results into ASCII.
import type { Hono } from 'hono';
import { BadRequestError, NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AddLeafRequest } from '../formats/messages.js';
import {
  formatConsistencyProof,
  formatCosignedTreeHead,
  formatInclusionProof,
  formatEncodedLeaves,
  parseAddLeafRequest,
} from '../formats/messages.js';
import { readBodyText } from '../http/body.js';
import { parseHashParam, parseIndexParam, parseRangeParams } from '../http/params.js';
import { ok, textReply } from '../http/respond.js';
import { buildApp, directHandler, type DirectHandler, type Route, type RouteInstrumentation } from '../http/router.js';
import type { PublishedReads } from './reads.js';
import { tileRoutes } from './tile-routes.js';

/** How add-leaf is answered: the primary sequences; a read replica refuses. */
export interface LeafSubmitter {
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

/**
 * The Sigsum endpoints and the tlog-tiles read path. Every read is answered
 * by `reads` (bounded by the head it serves); add-leaf by `submitter`.
 */
export function publicRoutes(reads: PublishedReads, submitter: LeafSubmitter): Route[] {
  return [
    {
      method: 'GET',
      name: 'get-tree-head',
      args: 0,
      handle: () => ok(formatCosignedTreeHead(reads.cosignedTreeHead())),
    },
    {
      method: 'GET',
      name: 'get-inclusion-proof',
      args: 2,
      handle: (_c, [sizeText, hashText]) => {
        const size = parseIndexParam('tree size', sizeText as string);
        const leafHash = parseHashParam('leaf hash', hashText as string);
        if (size < 2) throw new BadRequestError(`tree size ${size} must be at least 2 (a tree of size 1 needs no inclusion proof)`);
        return ok(formatInclusionProof(reads.inclusionProof(size, leafHash)));
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
        return ok(formatConsistencyProof(reads.consistencyProof(oldSize, newSize)));
      },
    },
    {
      method: 'GET',
      name: 'get-leaves',
      args: 2,
      handle: (_c, [startText, endText]) => {
        const { start, end } = parseRangeParams(startText as string, endText as string);
        return ok(formatEncodedLeaves(reads.leaves(start, end)));
      },
    },
    {
      method: 'POST',
      name: 'add-leaf',
      args: 0,
      direct: true, // the hot path: see router.ts
      handle: async (req) => {
        const request = parseAddLeafRequest(await readBodyText(req, MAX_ADD_LEAF_BODY));
        const published = await submitter.addLeaf(request, req.header('sigsum-token'), req.client);
        return published ? PUBLISHED : ACCEPTED;
      },
    },
    ...tileRoutes(reads),
  ];
}

/** The public API as a hono app, and its direct route (add-leaf) for startServer. */
export function publicApp(
  reads: PublishedReads,
  submitter: LeafSubmitter,
  prefix: string,
  logger: Logger,
  opts: { instrument?: RouteInstrumentation; extraRoutes?: readonly Route[] } = {},
): { app: Hono; direct: DirectHandler | undefined } {
  const routes = [...publicRoutes(reads, submitter), ...(opts.extraRoutes ?? [])];
  const appOpts = { instrument: opts.instrument };
  return { app: buildApp(routes, prefix, logger, appOpts), direct: directHandler(routes, prefix, logger, appOpts) };
}

/** add-leaf on a read replica: 404, naming where leaves go instead. */
export const READ_REPLICA_SUBMITTER: LeafSubmitter = {
  addLeaf: async () => {
    throw new NotFoundError('not primary: this node is a read replica; submit leaves to the log\'s primary');
  },
};

/** A secondary's public listener without reads: every request is 404 "not primary". */
export function notPrimaryApp(logger: Logger): Hono {
  return buildApp([], '', logger, { fallback: () => textReply(404, 'not primary\n') });
}
