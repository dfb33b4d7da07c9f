// The I/O edge of the promotion checks: published tree heads from files and
// from the old primary's public API, and peers' tree heads from their
// internal API. Nothing here decides; checks.ts does.
import { readFileSync } from 'node:fs';
import { UpstreamError } from '../errors.js';
import { parseCosignedTreeHead } from '../formats/messages.js';
import type { SignedTreeHead, TreeHead } from '../formats/tree-head.js';
import { InternalApiClient } from '../internal-api/client.js';
import { RunbookRefusal } from './runbook.js';

/** A source that could not be asked (an old primary that is down); the others still count. */
export interface Unreachable {
  unreachable: string;
}

export function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/**
 * A --published-head argument: the base URL of the old primary's public API
 * (its get-tree-head), or a file holding a tree head in Sigsum ASCII: an sth
 * file (size, root_hash, signature) or a saved get-tree-head answer.
 */
export async function readPublishedHead(spec: string, timeoutMs: number): Promise<SignedTreeHead | Unreachable> {
  return isUrl(spec) ? fetchPublishedHead(spec, timeoutMs) : readPublishedHeadFile(spec);
}

export function readPublishedHeadFile(path: string): SignedTreeHead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RunbookRefusal(`cannot read the published tree head file ${path}: ${(err as Error).message}.`, 'check the --published-head path.');
  }
  return parseHead(path, text);
}

/** Parses a stored published head (the database record, or a file). */
export function parseHead(source: string, text: string): SignedTreeHead {
  try {
    return parseCosignedTreeHead(text);
  } catch (err) {
    throw new RunbookRefusal(
      `${source} does not hold a tree head: ${(err as Error).message}.`,
      'give the old primary\'s sth file, or a saved get-tree-head answer of this log.',
    );
  }
}

async function fetchPublishedHead(baseUrl: string, timeoutMs: number): Promise<SignedTreeHead | Unreachable> {
  // The public get-tree-head has the same name and format as the internal
  // one. No bearer token: that is for node-to-node requests only.
  const client = newClient(baseUrl, undefined, timeoutMs, '--published-head');
  try {
    const head = await client.publishedTreeHead();
    return head ?? { unreachable: `${client.baseUrl}/get-tree-head answered 404` };
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    if (err.status === 200) {
      throw new RunbookRefusal(`${baseUrl} answered something that is not a tree head: ${err.message}.`, 'check that the URL is the old primary\'s public API.');
    }
    return { unreachable: err.message };
  } finally {
    await client.close();
  }
}

/** A peer's replicated tree head (get-tree-head-unsigned on its internal API). */
export async function fetchPeerHead(internalUrl: string, token: string | undefined, timeoutMs: number): Promise<TreeHead | Unreachable> {
  const client = newClient(internalUrl, token, timeoutMs, '--peer');
  try {
    return await client.treeHeadUnsigned();
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    return { unreachable: err.message };
  } finally {
    await client.close();
  }
}

function newClient(baseUrl: string, token: string | undefined, timeoutMs: number, flag: string): InternalApiClient {
  try {
    return new InternalApiClient({ baseUrl, token, timeoutMs, connections: 1 });
  } catch (err) {
    if (err instanceof UpstreamError) throw new RunbookRefusal(`${flag} ${baseUrl}: ${err.message}.`, 'give a base URL such as http://10.0.0.2:6965.');
    throw err;
  }
}

export function isUnreachable<T extends object>(x: T | Unreachable): x is Unreachable {
  return 'unreachable' in x;
}
