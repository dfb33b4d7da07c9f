// The replicator against a real in-process internal API over a real SQLite
// tree, replicating into a real SQLite replica: catch-up with clamped and
// pipelined get-leaves, resume, both kinds of divergence, an unreachable
// upstream, the bearer token, and the published head kept with log-pubkey-file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { TreeStore } from '../../src/tree/store.js';
import { PUBLISHED_TREE_HEAD_KEY, Replicator, VERIFIED_SIZE_KEY } from '../../src/replication/replicator.js';
import { InternalApiClient } from '../../src/internal-api/client.js';
import { asHash } from '../../src/types.js';
import { tempDir } from '../helpers/log-fixture.js';
import { freePort } from '../helpers/node-process.js';
import type { ReplicationSource } from '../../src/internal-api/app.js';
import type { RunningServer } from '../../src/http/serve.js';
import { captureLog, headOf, randomLeaves, sameLeaves, serveInternal, treeSource, treeWith } from './fixture.js';

type TestContext = { after(fn: () => unknown): void };

/** A temporary directory for one test, removed after it. */
function scratchDir(t: TestContext): string {
  const dir = tempDir();
  t.after(() => dir.remove());
  return dir.path;
}

/** The replica's store at path, closed after the test. */
function openReplica(t: TestContext, path: string): TreeStore {
  const replica = TreeStore.open(path);
  t.after(() => replica.close());
  return replica;
}

interface Upstream {
  tree: TreeStore;
  server: RunningServer;
  client: InternalApiClient;
}

/**
 * The node replicated from: a tree holding `leaves`, served by a real
 * internal API (the source may be wrapped to misbehave), and a client of it;
 * all closed after the test.
 */
async function startUpstream(
  t: TestContext,
  dir: string,
  leaves: readonly Uint8Array[],
  opts: { maxRange?: number; token?: string; source?: (tree: TreeStore) => ReplicationSource; baseUrlSuffix?: string } = {},
): Promise<Upstream> {
  const tree = treeWith(join(dir, 'up.db'), leaves);
  t.after(() => tree.close());
  const serveOpts = { ...(opts.maxRange !== undefined ? { maxRange: opts.maxRange } : {}), ...(opts.token !== undefined ? { token: opts.token } : {}) };
  const server = await serveInternal((opts.source ?? treeSource)(tree), serveOpts);
  t.after(() => server.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}${opts.baseUrlSuffix ?? ''}`, timeoutMs: 5_000 });
  t.after(() => client.close());
  return { tree, server, client };
}

test('replicator: catches up through clamped, pipelined get-leaves and verifies the root', async (t) => {
  const dir = scratchDir(t);
  const leaves = randomLeaves(5_000);
  // A max-range that does not divide the batch size, so clamped answers must be re-issued.
  const { tree: upstreamTree, client } = await startUpstream(t, dir, leaves, { maxRange: 333, baseUrlSuffix: '/' });
  const replica = openReplica(t, join(dir, 'replica.db'));
  const log = captureLog();
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log, batchSize: 1000, maxInFlight: 4 });

  assert.equal(await replicator.step(), 'synced');
  assert.equal(replica.size(), 5_000);
  assert.ok(sameLeaves(replica.leaves(0, 5_000), leaves), 'identical leaves at identical indices');
  assert.deepEqual(replicator.verifiedHead, headOf(upstreamTree));
  assert.equal(replica.getMeta(VERIFIED_SIZE_KEY), '5000');

  // Growth upstream: the next step fetches only the new leaves.
  const more = randomLeaves(700);
  upstreamTree.appendLeaves(more);
  assert.equal(await replicator.step(), 'synced');
  assert.equal(replicator.verifiedHead.size, 5_700);
  assert.ok(sameLeaves(replica.leaves(5_000, 5_700), more));
  assert.deepEqual(log.matching(/ERROR|WARNING/), []);
});

test('replicator: resumes from durable state, re-checking leaves stored beyond the verified size', async (t) => {
  const dir = scratchDir(t);
  const leaves = randomLeaves(3_000);
  const { tree: upstreamTree, client } = await startUpstream(t, dir, leaves, { maxRange: 500 });

  // As if a previous run crashed after storing 1,234 leaves but before verifying any.
  const path = join(dir, 'replica.db');
  const partial = TreeStore.open(path);
  partial.appendPreordered(0, leaves.slice(0, 1_234));
  partial.close();

  const replica = openReplica(t, path);
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log: captureLog() });
  assert.equal(replicator.verifiedHead.size, 0, 'unverified leaves are not served');
  assert.equal(await replicator.step(), 'synced');
  assert.equal(replica.size(), 3_000);
  assert.ok(sameLeaves(replica.leaves(0, 3_000), leaves), 'no duplicates, no gaps');
  assert.deepEqual(replicator.verifiedHead, headOf(upstreamTree));

  // A new replicator on the same database starts from the verified head.
  const again = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log: captureLog() });
  assert.deepEqual(again.verifiedHead, headOf(upstreamTree));
});

test('replicator: a different leaf at a stored index stops replication and changes nothing', async (t) => {
  const dir = scratchDir(t);
  const leaves = randomLeaves(2_000);
  const { client } = await startUpstream(t, dir, leaves);

  const forged = leaves.slice(0, 1_500);
  forged[777] = randomLeaves(1)[0] as Uint8Array;
  const replica = openReplica(t, join(dir, 'replica.db'));
  replica.appendPreordered(0, forged);
  const rootBefore = replica.rootAt(1_500);

  const log = captureLog();
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log });
  assert.equal(await replicator.step(), 'diverged');
  assert.equal(await replicator.step(), 'diverged', 'stays stopped');
  assert.ok(replicator.diverged);
  const errors = log.matching(/ERROR .*primary and secondary have diverged/);
  assert.equal(errors.length, 1, log.lines.join('\n'));
  assert.match(errors[0] as string, /777/, 'names the index');
  assert.equal(replica.size(), 1_500, 'nothing appended');
  assert.ok(sameLeaves(replica.leaves(0, 1_500), forged), 'stored leaves unchanged');
  assert.deepEqual(replica.rootAt(1_500), rootBefore);
  assert.equal(replicator.verifiedHead.size, 0, 'still serving the last verified head');
});

test('replicator: an upstream root that differs from the local one at its size is divergence', async (t) => {
  const dir = scratchDir(t);
  let lie = false;
  const lying = (tree: TreeStore): ReplicationSource => {
    const source = treeSource(tree);
    return {
      ...source,
      localTreeHead: () => {
        const head = source.localTreeHead();
        return lie ? { size: head.size, rootHash: asHash(new Uint8Array(32).fill(7)) } : head;
      },
    };
  };
  const { tree: upstreamTree, client } = await startUpstream(t, dir, randomLeaves(100), { source: lying });
  const replica = openReplica(t, join(dir, 'replica.db'));
  const log = captureLog();
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log });
  assert.equal(await replicator.step(), 'synced');
  const good = replicator.verifiedHead;

  upstreamTree.appendLeaves(randomLeaves(50));
  lie = true;
  assert.equal(await replicator.step(), 'diverged');
  assert.match(log.matching(/ERROR/).join('\n'), /diverged.*local root at size 150/);
  assert.deepEqual(replicator.verifiedHead, good, 'keeps serving the last good head');
  assert.equal(replica.getMeta(VERIFIED_SIZE_KEY), '100');
});

test('replicator: an unreachable upstream is retried and logged once, not every poll', async (t) => {
  const dir = scratchDir(t);
  const port = await freePort();
  const client = new InternalApiClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2_000 });
  t.after(() => client.close());
  const replica = openReplica(t, join(dir, 'replica.db'));
  const log = captureLog();
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log });
  for (let i = 0; i < 5; i++) assert.equal(await replicator.step(), 'upstream-unavailable');
  assert.equal(log.matching(/WARNING cannot replicate from up/).length, 1, log.lines.join('\n'));
  assert.match(log.lines.join('\n'), /ECONNREFUSED/);
  assert.equal(replica.size(), 0);
});

test('replicator: sends the bearer token; a wrong one is refused by the upstream', async (t) => {
  const dir = scratchDir(t);
  const { server } = await startUpstream(t, dir, randomLeaves(10), { token: 's3cret' });
  const replica = openReplica(t, join(dir, 'replica.db'));

  const wrong = new InternalApiClient({ baseUrl: `http://${server.address}`, token: 'nope', timeoutMs: 2_000 });
  t.after(() => wrong.close());
  const log = captureLog();
  assert.equal(await new Replicator({ store: replica, upstream: wrong, upstreamName: 'up', log }).step(), 'upstream-unavailable');
  assert.match(log.lines.join('\n'), /status 403: wrong bearer token/);

  const right = new InternalApiClient({ baseUrl: `http://${server.address}`, token: 's3cret', timeoutMs: 2_000 });
  t.after(() => right.close());
  assert.equal(await new Replicator({ store: replica, upstream: right, upstreamName: 'up', log }).step(), 'synced');
  assert.equal(replica.size(), 10);
});

test('replicator: keeps the newest published head that verifies and matches the local tree', async (t) => {
  const dir = scratchDir(t);
  const logSigner = signerFromSeed(generateSeed());
  const otherSigner = signerFromSeed(generateSeed());
  let published: CosignedTreeHead | undefined;
  const { tree: upstreamTree, client } = await startUpstream(t, dir, randomLeaves(300), { source: (tree) => treeSource(tree, () => published) });
  const replica = openReplica(t, join(dir, 'replica.db'));
  const log = captureLog();
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log, logPublicKey: logSigner.publicKey });
  // A function, so that assertions on one value do not narrow the next read.
  const keptSize = (): number | undefined => replicator.publishedHead?.size;

  // No published head upstream yet.
  assert.equal(await replicator.step(), 'synced');
  assert.equal(replicator.publishedHead, undefined);

  // Signed by another key: ignored, with a warning.
  published = { ...signTreeHead(otherSigner, headOf(upstreamTree)), cosignatures: [] };
  assert.equal(await replicator.step(), 'synced');
  assert.equal(keptSize(), undefined);
  assert.match(log.lines.join('\n'), /does not verify with log-pubkey-file/);

  // A good head of size 200 is kept durably.
  const at200 = { size: 200, rootHash: upstreamTree.rootAt(200) };
  published = { ...signTreeHead(logSigner, at200), cosignatures: [] };
  assert.equal(await replicator.step(), 'synced');
  assert.equal(keptSize(), 200);
  assert.ok(replica.getMeta(PUBLISHED_TREE_HEAD_KEY)?.startsWith('size=200\n'));

  // A head ahead of the local tree is kept once its leaves arrive in the same step.
  upstreamTree.appendLeaves(randomLeaves(100));
  published = { ...signTreeHead(logSigner, headOf(upstreamTree)), cosignatures: [] };
  assert.equal(await replicator.step(), 'synced');
  assert.equal(keptSize(), 400);

  // An older head later is not taken over the newer one.
  published = { ...signTreeHead(logSigner, at200), cosignatures: [] };
  assert.equal(await replicator.step(), 'synced');
  assert.equal(keptSize(), 400);

  // And it survives a restart.
  const reopened = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log, logPublicKey: logSigner.publicKey });
  assert.equal(reopened.publishedHead?.size, 400);
  assert.deepEqual(log.matching(/ERROR/), []);
});

test('replicator: a log-signed head that disagrees with the local tree is divergence', async (t) => {
  const dir = scratchDir(t);
  const logSigner = signerFromSeed(generateSeed());
  const forked = { ...signTreeHead(logSigner, { size: 40, rootHash: asHash(new Uint8Array(32).fill(1)) }), cosignatures: [] };
  const { client } = await startUpstream(t, dir, randomLeaves(50), { source: (tree) => treeSource(tree, () => forked) });
  const replica = openReplica(t, join(dir, 'replica.db'));
  const log = captureLog();
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log, logPublicKey: logSigner.publicKey });
  assert.equal(await replicator.step(), 'diverged');
  assert.match(log.matching(/ERROR/).join('\n'), /diverged.*log signed a tree head of size 40/);
  assert.equal(replicator.publishedHead, undefined);
});

/** The upstream's tree, served with every get-leaves range recorded; `shortOnce` cuts the first answer at or after that index to 10 leaves. */
function recordingSource(shortOnceAt?: number): { source: (tree: TreeStore) => ReplicationSource; asked: Array<{ start: number; end: number }> } {
  const asked: Array<{ start: number; end: number }> = [];
  let cut = shortOnceAt === undefined;
  return {
    asked,
    source: (tree) => ({
      ...treeSource(tree),
      leaves: (start, end) => {
        asked.push({ start, end });
        if (!cut && start >= (shortOnceAt as number)) {
          cut = true;
          return tree.leaves(start, start + 10);
        }
        return tree.leaves(start, end);
      },
    }),
  };
}

test('replicator: the request size recovers after one short answer', async (t) => {
  const dir = scratchDir(t);
  const leaves = randomLeaves(30_000);
  const { source, asked } = recordingSource(2_000);
  const { tree: upstreamTree, client } = await startUpstream(t, dir, leaves, { maxRange: 8192, source });
  const replica = openReplica(t, join(dir, 'replica.db'));
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log: captureLog(), batchSize: 1000, maxInFlight: 4 });

  assert.equal(await replicator.step(), 'synced');
  assert.equal(replica.size(), 30_000);
  assert.ok(sameLeaves(replica.leaves(0, 30_000), leaves));
  assert.deepEqual(replicator.verifiedHead, headOf(upstreamTree));
  const afterShort = asked.filter((r) => r.start > 2_010);
  const full = afterShort.filter((r) => r.end - r.start === 1000);
  assert.ok(full.length >= 20, `back to 1000-leaf requests after the short answer (${full.length} of ${afterShort.length})`);
  assert.ok(asked.length < 60, `${asked.length} requests for 30 requests' worth of leaves`);
});

test('replicator: an upstream whose max-range is lower is probed for a larger size rarely', async (t) => {
  const dir = scratchDir(t);
  const leaves = randomLeaves(20_000);
  const { source, asked } = recordingSource();
  const { client } = await startUpstream(t, dir, leaves, { maxRange: 100, source });
  const replica = openReplica(t, join(dir, 'replica.db'));
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log: captureLog(), batchSize: 1000, maxInFlight: 4 });

  assert.equal(await replicator.step(), 'synced');
  assert.ok(sameLeaves(replica.leaves(0, 20_000), leaves));
  // 200 answers of 100 leaves are needed; probes and re-issued pipelined requests add a few.
  assert.ok(asked.length < 200 + 40, `${asked.length} requests`);
});
