// HTTP client for another node's internal API (app.ts beside it):
// what a secondary asks its upstream (the primary, or another secondary when
// cascading), and what the primary asks each secondary. Answers are parsed
// strictly with src/formats/messages.ts; anything unexpected is an
// UpstreamError, never a silently accepted partial answer.
import { Agent, request } from 'undici';
import { UpstreamError } from '../errors.js';
import { BINARY_LEAVES_ACCEPT, decodeBinaryLeaves, isBinaryLeaves } from './binary-leaves.js';
import { encodeTreeLeaf, TREE_LEAF_SIZE } from '../formats/leaf.js';
import {
  parseConsistencyProof,
  parseCosignedTreeHead,
  parseLeaves,
  parseSignedTreeHead,
  parseTreeHead,
} from '../formats/messages.js';
import type { CosignedTreeHead, SignedTreeHead, TreeHead } from '../formats/tree-head.js';
import { HASH_SIZE, SIGNATURE_SIZE, type Hash } from '../types.js';

/** The read side of a node's internal API, as a node replicating from it needs it. */
export interface ReplicationUpstream {
  /** The upstream's local tree head (may be ahead of its published head). */
  treeHeadUnsigned(): Promise<TreeHead>;
  /**
   * Leaves [start, end) as encoded 128-byte tree leaves, possibly fewer (the
   * upstream clamps to its max-range), at least one; an empty array when
   * start is the upstream's size ("at end of tree").
   */
  leaves(start: number, end: number): Promise<Uint8Array[]>;
  /** The upstream's published (cosigned) tree head; undefined when it has none yet. */
  publishedTreeHead(): Promise<CosignedTreeHead | undefined>;
}

/** What the primary's replication gate asks a secondary. */
export interface SecondaryHeadSource {
  /** The secondary's replicated head, signed with the secondary's own key. */
  treeHeadToCosign(): Promise<SignedTreeHead>;
}

export interface InternalApiClientOptions {
  /**
   * The other node's internal base URL, including its url-prefix if it has
   * one, e.g. "http://10.0.0.2:6967" or "http://10.0.0.2:6967/testonly".
   */
  baseUrl: string;
  /** Shared bearer token (internal-token-file), sent on every request when set. */
  token?: string | undefined;
  /** Whole-request timeout (connect, headers and body). */
  timeoutMs: number;
  /** Connections kept open to the node; more allow pipelined get-leaves. */
  connections?: number;
}

/** Normalizes a base URL: no trailing slash, http(s) only. Throws UpstreamError otherwise. */
export function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new UpstreamError(`"${baseUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UpstreamError(`"${baseUrl}": only http and https URLs are supported`);
  }
  if (url.search !== '' || url.hash !== '') throw new UpstreamError(`"${baseUrl}": a base URL has no query or fragment`);
  return url.href.replace(/\/+$/, '');
}

export class InternalApiClient implements ReplicationUpstream, SecondaryHeadSource {
  readonly baseUrl: string;
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: InternalApiClientOptions) {
    this.baseUrl = normalizeBaseUrl(opts.baseUrl);
    this.agent = new Agent({ connections: opts.connections ?? 4 });
    this.headers = opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` };
  }

  async treeHeadUnsigned(): Promise<TreeHead> {
    const { status, body, url } = await this.get('get-tree-head-unsigned');
    expectOk(status, body, url);
    return parseAnswer(url, () => parseTreeHead(body));
  }

  async leaves(start: number, end: number): Promise<Uint8Array[]> {
    // An error answer is short; a good one is at most one line per leaf asked for.
    // A sigsum-log node answers the binary form asked for; log-go (and any
    // public API) the ASCII one: the content-type says which came.
    const answer = await this.getBytes(`get-leaves/${start}/${end}`, (end - start) * LINE_LENGTH + MAX_SMALL_ANSWER, BINARY_LEAVES_ACCEPT);
    const { status, url } = answer;
    // Internal semantics: start equal to the size is 404 "at end of tree".
    // log-go answers that with its own 404 text, so any 404 here means it.
    if (status === 404) return [];
    const binary = status === 200 && isBinaryLeaves(answer.contentType);
    const text = binary ? '' : answer.body.toString('latin1');
    expectOk(status, text, url);
    return parseAnswer(url, () => (binary ? decodeBinaryLeaves(answer.body, end - start) : parseEncodedLeaves(text, end - start)));
  }

  async publishedTreeHead(): Promise<CosignedTreeHead | undefined> {
    const { status, body, url } = await this.get('get-tree-head');
    if (status === 404) return undefined;
    expectOk(status, body, url);
    return parseAnswer(url, () => parseCosignedTreeHead(body));
  }

  /**
   * A consistency proof between two published sizes. A public-API endpoint
   * (the internal API has none): `sigsum-log import` asks the log it copies.
   */
  async consistencyProof(oldSize: number, newSize: number): Promise<Hash[]> {
    const { status, body, url } = await this.get(`get-consistency-proof/${oldSize}/${newSize}`);
    expectOk(status, body, url);
    return parseAnswer(url, () => parseConsistencyProof(body));
  }

  async treeHeadToCosign(): Promise<SignedTreeHead> {
    const { status, body, url } = await this.get('get-tree-head-to-cosign');
    expectOk(status, body, url);
    return parseAnswer(url, () => parseSignedTreeHead(body));
  }

  /** Aborts requests still in flight (they reject with UpstreamError) and closes the connections. */
  close(): Promise<void> {
    return this.agent.destroy();
  }

  /**
   * GETs an endpoint. The answer is read up to `maxBytes` (a tree head is a
   * few hundred bytes; get-leaves is bounded by the range asked for): a peer
   * that sends more is failing, and must not make this node buffer without
   * limit.
   */
  private async get(endpoint: string, maxBytes = MAX_SMALL_ANSWER): Promise<{ status: number; body: string; url: string }> {
    const { status, body, url } = await this.getBytes(endpoint, maxBytes);
    return { status, body: body.toString('latin1'), url };
  }

  /** get(), with the body as bytes and the answer's content-type; `accept` is sent when given. */
  private async getBytes(
    endpoint: string,
    maxBytes: number,
    accept?: string,
  ): Promise<{ status: number; body: Buffer; contentType: string | undefined; url: string }> {
    const url = `${this.baseUrl}/${endpoint}`;
    try {
      const res = await request(url, {
        method: 'GET',
        headers: accept === undefined ? this.headers : { ...this.headers, accept },
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > maxBytes) {
        res.body.destroy();
        throw new UpstreamError(`GET ${url}: answer of ${declared} bytes is larger than the ${maxBytes} expected`);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxBytes) {
          res.body.destroy();
          throw new UpstreamError(`GET ${url}: answer larger than the ${maxBytes} bytes expected`);
        }
        chunks.push(chunk);
      }
      const contentType = res.headers['content-type'];
      return { status: res.statusCode, body: Buffer.concat(chunks), contentType: typeof contentType === 'string' ? contentType : undefined, url };
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      const e = err as Error & { code?: string; cause?: { code?: string } };
      const reason = e.name === 'TimeoutError' || e.name === 'AbortError' ? `timed out after ${this.opts.timeoutMs} ms` : (e.cause?.code ?? e.code ?? e.message);
      throw new UpstreamError(`GET ${url}: ${reason}`);
    }
  }
}

/** Cap for tree-head answers (a few hundred bytes, plus cosignature lines). */
const MAX_SMALL_ANSWER = 64 * 1024;

// One get-leaves line: `leaf=<checksum> <signature> <key_hash>\n`, hex.
const KEY = 'leaf=';
const CHECKSUM_AT = KEY.length;
const SIGNATURE_AT = CHECKSUM_AT + 2 * HASH_SIZE + 1;
const KEY_HASH_AT = SIGNATURE_AT + 2 * SIGNATURE_SIZE + 1;
const LINE_LENGTH = KEY_HASH_AT + 2 * HASH_SIZE + 1;

/**
 * A get-leaves answer as encoded tree leaves (128-byte views of one buffer):
 * what a replica stores, without a TreeLeaf object per leaf. Accepts exactly
 * what parseLeaves accepts: well-formed answers take the fast path below,
 * and anything else is handed to parseLeaves, which throws its precise error.
 * Catch-up throughput depends on this (see bench/replication.ts).
 */
export function parseEncodedLeaves(text: string, maxCount: number): Uint8Array[] {
  const count = text.length / LINE_LENGTH;
  // Allocate only for a count that can be right; anything else takes the slow path's error.
  const out = Buffer.allocUnsafe(Number.isInteger(count) && count <= maxCount ? count * TREE_LEAF_SIZE : 0);
  const wellFormed = (): boolean => {
    if (!Number.isInteger(count) || count === 0 || count > maxCount) return false;
    for (let i = 0, line = 0, leaf = 0; i < count; i++, line += LINE_LENGTH, leaf += TREE_LEAF_SIZE) {
      if (
        !text.startsWith(KEY, line) ||
        text.charCodeAt(line + SIGNATURE_AT - 1) !== 0x20 ||
        text.charCodeAt(line + KEY_HASH_AT - 1) !== 0x20 ||
        text.charCodeAt(line + LINE_LENGTH - 1) !== 0x0a
      ) {
        return false;
      }
      // Buffer#write stops at the first pair that is not hex, so a full count
      // proves every character was a hex digit (either case, as the format allows).
      if (
        out.write(text.slice(line + CHECKSUM_AT, line + SIGNATURE_AT - 1), leaf, HASH_SIZE, 'hex') !== HASH_SIZE ||
        out.write(text.slice(line + SIGNATURE_AT, line + KEY_HASH_AT - 1), leaf + HASH_SIZE, SIGNATURE_SIZE, 'hex') !== SIGNATURE_SIZE ||
        out.write(text.slice(line + KEY_HASH_AT, line + LINE_LENGTH - 1), leaf + HASH_SIZE + SIGNATURE_SIZE, HASH_SIZE, 'hex') !== HASH_SIZE
      ) {
        return false;
      }
    }
    return true;
  };
  if (!wellFormed()) return parseLeaves(text, maxCount).map(encodeTreeLeaf);
  return Array.from({ length: count }, (_v, i) => out.subarray(i * TREE_LEAF_SIZE, (i + 1) * TREE_LEAF_SIZE));
}

function expectOk(status: number, body: string, url: string): void {
  if (status === 200) return;
  const line = body.split('\n', 1)[0]?.slice(0, 200) ?? '';
  throw new UpstreamError(`GET ${url}: status ${status}${line === '' ? '' : `: ${line}`}`, status);
}

function parseAnswer<T>(url: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UpstreamError(`GET ${url}: malformed answer: ${(err as Error).message}`, 200);
  }
}
