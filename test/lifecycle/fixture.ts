// Shared pieces of the lifecycle tests (import, backup, restore): a real
// primary started on a tree seeded straight into its database (so tests
// have tens of thousands of leaves without submitting each over HTTP), an
// intercepting proxy that can stall or lie, and the import command.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeTreeLeaf, signLeaf } from '../../src/formats/leaf.js';
import { parseCosignedTreeHead } from '../../src/formats/messages.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { TreeStore } from '../../src/tree/store.js';
import { asHash, type Signer } from '../../src/types.js';
import { http, runCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { makeKey, preparePrimary, startNodeProcess, writeToml, type PrimarySetup, type PrimaryOptions } from '../helpers/log-fixture.js';

/** `count` leaves signed by `signer`, encoded as stored. */
export function signedLeaves(signer: Signer, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => encodeTreeLeaf(signLeaf(signer, asHash(new Uint8Array(randomBytes(32))))));
}

/** Appends leaves to a database file (created if absent), as a primary would have sequenced them. */
export function seedTree(dbFile: string, leaves: readonly Uint8Array[]): void {
  const store = TreeStore.open(dbFile);
  try {
    for (let i = 0; i < leaves.length; i += 5000) store.appendLeaves(leaves.slice(i, i + 5000));
  } finally {
    store.close();
  }
}

export interface SeededPrimary {
  setup: PrimarySetup;
  proc: NodeProcess;
  submitter: Signer;
  leaves: Uint8Array[];
}

/** A primary process whose first tree head covers `count` leaves seeded into its database (startup=local-tree). */
export async function startSeededPrimary(dir: string, count: number, opts: PrimaryOptions = {}): Promise<SeededPrimary> {
  const setup = await preparePrimary(dir, { interval: '300ms', ...opts });
  const submitter = makeKey(join(dir, 'submitter.key'));
  const leaves = signedLeaves(submitter, count);
  seedTree(setup.dbFile, leaves);
  writeFileSync(`${setup.sthFile}.startup`, 'startup=local-tree\n');
  const proc = await startNodeProcess('primary', setup);
  await waitForPublished(setup.publicUrl, count);
  return { setup, proc, submitter, leaves };
}

export async function publishedHead(publicUrl: string): Promise<CosignedTreeHead> {
  const res = await http(`${publicUrl}/get-tree-head`);
  assert.equal(res.status, 200, res.body);
  return parseCosignedTreeHead(res.body);
}

export function waitForPublished(publicUrl: string, size: number, timeoutMs = 30_000): Promise<CosignedTreeHead> {
  return waitUntil(`a published head of size ≥ ${size} at ${publicUrl}`, async () => {
    const head = await publishedHead(publicUrl);
    return head.size >= size ? head : undefined;
  }, timeoutMs, 100);
}

/** A secondary-style config for an import target (no primary-url). */
export function writeImportConfig(dir: string, name: string, logPubkeyFile: string | undefined, top: Record<string, string> = {}): { config: string; dbFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}.key`);
  makeKey(keyFile);
  const config = join(dir, `${name}.toml`);
  const dbFile = join(dir, `${name}.db`);
  writeToml(
    config,
    { 'key-file': keyFile, 'db-file': dbFile, interval: '200ms', timeout: '5s', ...top },
    logPubkeyFile === undefined ? {} : { secondary: { 'log-pubkey-file': logPubkeyFile } },
  );
  return { config, dbFile, keyFile };
}

export function runImport(config: string, from: string, extra: string[] = [], timeoutMs = 120_000): Promise<{ code: number | null; output: string }> {
  return runCli(['import', '--config', config, '--from', from, ...extra], timeoutMs);
}

export type Interceptor = (path: string, body: string) => string | undefined | Promise<string | undefined>;

/**
 * An HTTP proxy on 127.0.0.1 in front of a node's public API. Each answer
 * passes through `intercept` (with the body of a 200, else ''), which may
 * replace it with a 200 of its own; get-leaves answers can be held back.
 */
export class InterceptingProxy {
  requests: string[] = [];
  intercept: Interceptor = () => undefined;
  /** While set, get-leaves requests wait for it. */
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private holdAfter = Number.POSITIVE_INFINITY;
  private constructor(private readonly server: Server, readonly url: string, private readonly upstream: string) {}

  static async start(upstream: string): Promise<InterceptingProxy> {
    let proxy: InterceptingProxy | undefined;
    const server = createServer((req, res) => void (proxy as InterceptingProxy).handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    proxy = new InterceptingProxy(server, `http://127.0.0.1:${address.port}`, upstream);
    return proxy;
  }

  /** get-leaves requests after the first `n` wait until release(). */
  holdLeavesAfter(n: number): void {
    this.holdAfter = n;
  }

  holdLeaves(): void {
    this.gate ??= new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  release(): void {
    this.holdAfter = Number.POSITIVE_INFINITY;
    this.openGate?.();
    this.gate = undefined;
  }

  leafRequests(): number {
    return this.requests.filter((p) => p.startsWith('/get-leaves/')).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    this.requests.push(path);
    try {
      if (path.startsWith('/get-leaves/') && this.leafRequests() > this.holdAfter) this.holdLeaves();
      if (path.startsWith('/get-leaves/') && this.gate !== undefined) await this.gate;
      const { status, body } = await forward(`${this.upstream}${path}`);
      const replaced = await this.intercept(path, status === 200 ? body : '');
      res.writeHead(replaced === undefined ? status : 200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(replaced ?? body);
    } catch (err) {
      res.writeHead(502);
      res.end(`proxy: ${(err as Error).message}\n`);
    }
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function forward(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
