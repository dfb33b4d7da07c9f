// The C2SP tlog-tiles read path over the shared reads: `checkpoint`,
// `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, with the caching
// headers of the spec and of Sunlight's read path: the checkpoint is mutable
// (not cached), full tiles and bundles never change (cached for a year,
// immutable), partial ones are short-lived (a static export removes them once
// their full tile exists). Everything may be read cross-origin.
import type { HttpRequest } from '../http/request.js';
import type { Reply } from '../http/respond.js';
import type { Route } from '../http/router.js';
import { parseTilePath, TILE_WIDTH } from '../tiles/layout.js';
import type { PublishedReads } from './reads.js';

export const CHECKPOINT_CACHE_CONTROL = 'no-cache';
export const FULL_TILE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const PARTIAL_TILE_CACHE_CONTROL = 'public, max-age=60';
const OCTETS = 'application/octet-stream';

export function tileRoutes(reads: PublishedReads): Route[] {
  return [
    {
      method: 'GET',
      name: 'checkpoint',
      args: 0,
      handle: () => ({
        status: 200,
        body: reads.checkpoint(),
        headers: { 'cache-control': CHECKPOINT_CACHE_CONTROL, 'access-control-allow-origin': '*' },
      }),
    },
    {
      method: 'GET',
      name: 'tile',
      args: 'rest',
      handle: (req, segments) => tileReply(reads, req, segments),
    },
  ];
}

function tileReply(reads: PublishedReads, req: HttpRequest, segments: string[]): Reply {
  const ref = parseTilePath(segments);
  const headers: Record<string, string> = {
    'content-type': OCTETS,
    'cache-control': ref.width === TILE_WIDTH ? FULL_TILE_CACHE_CONTROL : PARTIAL_TILE_CACHE_CONTROL,
    'access-control-allow-origin': '*',
  };
  if (ref.level !== 'entries') return { status: 200, body: reads.tile(ref), headers };
  headers.vary = 'accept-encoding';
  if (!acceptsGzip(req.header('accept-encoding'))) return { status: 200, body: reads.tile(ref), headers };
  headers['content-encoding'] = 'gzip';
  return { status: 200, body: reads.gzippedBundle(ref), headers };
}

/** Whether an Accept-Encoding header admits gzip (a q=0 refuses it). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}
