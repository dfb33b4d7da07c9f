// Shared pieces of the replication tests: a logger that records lines,
// in-process internal API servers over real SQLite trees, random leaves, and
// readers for a running node's internal API.
import { randomBytes } from 'node:crypto';
import { internalApp, internalRoutes, type CosignSource, type ReplicationSource } from '../../src/internal-api/app.js';
import { parseCosignedTreeHead, parseTreeHead } from '../../src/formats/messages.js';
import type { CosignedTreeHead, TreeHead } from '../../src/formats/tree-head.js';
import { startServer, type RunningServer } from '../../src/http/serve.js';
import type { Logger } from '../../src/log.js';
import { InternalApiClient } from '../../src/internal-api/client.js';
import { emptyRoot } from '../../src/tree/hash.js';
import { TreeStore } from '../../src/tree/store.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { preparePrimary, prepareSecondary, writePrimaryConfig, type NodeSetup, type PrimarySetup } from '../helpers/log-fixture.js';

export interface CapturedLog extends Logger {
  lines: string[];
  /** Lines matching the pattern. */
  matching(pattern: RegExp): string[];
}

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const at = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return {
    lines,
    debug: () => undefined,
    info: at('INFO'),
    warning: at('WARNING'),
    error: at('ERROR'),
    matching: (pattern) => lines.filter((l) => pattern.test(l)),
  };
}

/** Random 128-byte tree leaves: the replication path never checks their signatures. */
export function randomLeaves(count: number): Uint8Array[] {
  const block = randomBytes(128 * count);
  return Array.from({ length: count }, (_v, i) => new Uint8Array(block.subarray(128 * i, 128 * (i + 1))));
}

/** Opens (creating) a tree with these leaves appended, in batches. */
export function treeWith(path: string, leaves: readonly Uint8Array[], batch = 1000): TreeStore {
  const tree = TreeStore.open(path);
  for (let i = 0; i < leaves.length; i += batch) tree.appendLeaves(leaves.slice(i, i + batch));
  return tree;
}

export function headOf(tree: TreeStore): TreeHead {
  const size = tree.size();
  return { size, rootHash: size === 0 ? emptyRoot() : tree.rootAt(size) };
}

/** A node's read side over a real tree, for an in-process internal API. */
export function treeSource(tree: TreeStore, published: () => CosignedTreeHead | undefined = () => undefined): ReplicationSource {
  return {
    localTreeHead: () => headOf(tree),
    leaves: (start, end) => tree.leaves(start, end),
    publishedTreeHead: published,
  };
}

/** Serves an internal API on 127.0.0.1:<free port>. */
export function serveInternal(
  source: ReplicationSource,
  opts: { maxRange?: number; cosign?: CosignSource; token?: string; log?: Logger } = {},
): Promise<RunningServer> {
  const log = opts.log ?? captureLog();
  return startServer(internalApp(internalRoutes(source, opts.maxRange ?? 512, opts.cosign), '', opts.token, log), '127.0.0.1:0');
}

export async function unsignedHead(internalUrl: string): Promise<TreeHead> {
  const res = await http(`${internalUrl}/get-tree-head-unsigned`);
  if (res.status !== 200) throw new Error(`get-tree-head-unsigned: ${res.status} ${res.body}`);
  return parseTreeHead(res.body);
}

export async function publishedHead(publicUrl: string): Promise<CosignedTreeHead> {
  const res = await http(`${publicUrl}/get-tree-head`);
  if (res.status !== 200) throw new Error(`get-tree-head: ${res.status} ${res.body}`);
  return parseCosignedTreeHead(res.body);
}

/** All leaves [0, size) of a running node, through its internal get-leaves, encoded. */
export async function allLeaves(internalUrl: string, size: number): Promise<Uint8Array[]> {
  const client = new InternalApiClient({ baseUrl: internalUrl, timeoutMs: 10_000 });
  try {
    const out: Uint8Array[] = [];
    while (out.length < size) {
      const page = await client.leaves(out.length, size);
      if (page.length === 0) throw new Error(`at end of tree at ${out.length} < ${size}`);
      out.push(...page);
    }
    return out;
  } finally {
    await client.close();
  }
}

export function sameLeaves(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.compare(x, b[i] as Uint8Array) === 0);
}

export interface Cluster {
  primary: PrimarySetup;
  secondaries: NodeSetup[];
}

export interface ClusterOptions {
  secondaries: number;
  primaryInterval?: string;
  secondaryInterval?: string;
  /** Give secondaries the log's public key, so they keep the published head. */
  logPubkey?: boolean;
  /** Per secondary: more [secondary] keys. */
  secondaryKeys?: (index: number) => Record<string, string | number | boolean> | undefined;
  /** Per secondary: the public key file the primary is configured with (default: its own). */
  pubkeyFileFor?: (index: number, setup: NodeSetup) => string;
}

/**
 * Writes a primary and its secondaries: keys, configs, the primary's startup
 * file. The primary is prepared first (its internal URL is each secondary's
 * primary-url), then its config is rewritten to name the secondaries.
 */
export async function prepareCluster(dir: string, opts: ClusterOptions): Promise<Cluster> {
  const primary = await preparePrimary(dir, { interval: opts.primaryInterval ?? '500ms' });
  const secondaries: NodeSetup[] = [];
  for (let i = 0; i < opts.secondaries; i++) {
    secondaries.push(
      await prepareSecondary(
        dir,
        {
          primaryUrl: primary.internalUrl,
          interval: opts.secondaryInterval ?? '100ms',
          logPubkeyFile: opts.logPubkey === true ? `${primary.keyFile}.pub` : undefined,
          secondary: opts.secondaryKeys?.(i),
        },
        `secondary${i}`,
      ),
    );
  }
  writePrimaryConfig(primary, {
    interval: opts.primaryInterval ?? '500ms',
    top: { timeout: '1s' },
    secondaries: secondaries.map((s, i) => ({ url: s.internalUrl, pubkeyFile: opts.pubkeyFileFor?.(i, s) ?? `${s.keyFile}.pub` })),
  });
  return { primary, secondaries };
}

/** Waits until a node's internal get-tree-head-unsigned reports at least `size`. */
export function waitForSize(internalUrl: string, size: number, timeoutMs = 30_000): Promise<TreeHead> {
  return waitUntil(`${internalUrl} at size ${size}`, async () => {
    const head = await unsignedHead(internalUrl);
    return head.size >= size ? head : undefined;
  }, timeoutMs);
}
