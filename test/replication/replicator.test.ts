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
import { PUBLISHED_TREE_HEAD_KEY, Replicator, VERIFIED_SIZE_KEY } from '../../src/secondary/replicator.js';
import { InternalApiClient } from '../../src/secondary/upstream-client.js';
import { asHash } from '../../src/types.js';
import { tempDir } from '../helpers/log-fixture.js';
import { freePort } from '../helpers/node-process.js';
import { captureLog, headOf, randomLeaves, sameLeaves, serveInternal, treeSource, treeWith } from './fixture.js';

function replicaOf(path: string): TreeStore {
  return TreeStore.open(path);
}

test('replicator: catches up through clamped, pipelined get-leaves and verifies the root', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = randomLeaves(5_000);
  const upstreamTree = treeWith(join(dir.path, 'up.db'), leaves);
  t.after(() => upstreamTree.close());
  // A max-range that does not divide the batch size, so clamped answers must be re-issued.
  const server = await serveInternal(treeSource(upstreamTree), { maxRange: 333 });
  t.after(() => server.close());
  const replica = replicaOf(join(dir.path, 'replica.db'));
  t.after(() => replica.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}/`, timeoutMs: 5_000 });
  t.after(() => client.close());
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
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = randomLeaves(3_000);
  const upstreamTree = treeWith(join(dir.path, 'up.db'), leaves);
  t.after(() => upstreamTree.close());
  const server = await serveInternal(treeSource(upstreamTree), { maxRange: 500 });
  t.after(() => server.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}`, timeoutMs: 5_000 });
  t.after(() => client.close());

  // As if a previous run crashed after storing 1,234 leaves but before verifying any.
  const path = join(dir.path, 'replica.db');
  const partial = replicaOf(path);
  partial.appendPreordered(0, leaves.slice(0, 1_234));
  partial.close();

  const replica = replicaOf(path);
  t.after(() => replica.close());
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
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = randomLeaves(2_000);
  const upstreamTree = treeWith(join(dir.path, 'up.db'), leaves);
  t.after(() => upstreamTree.close());
  const server = await serveInternal(treeSource(upstreamTree));
  t.after(() => server.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}`, timeoutMs: 5_000 });
  t.after(() => client.close());

  const forged = leaves.slice(0, 1_500);
  forged[777] = randomLeaves(1)[0] as Uint8Array;
  const replica = replicaOf(join(dir.path, 'replica.db'));
  t.after(() => replica.close());
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
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = randomLeaves(100);
  const upstreamTree = treeWith(join(dir.path, 'up.db'), leaves);
  t.after(() => upstreamTree.close());
  let lie = false;
  const source = treeSource(upstreamTree);
  const server = await serveInternal({
    ...source,
    localTreeHead: () => {
      const head = source.localTreeHead();
      return lie ? { size: head.size, rootHash: asHash(new Uint8Array(32).fill(7)) } : head;
    },
  });
  t.after(() => server.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}`, timeoutMs: 5_000 });
  t.after(() => client.close());
  const replica = replicaOf(join(dir.path, 'replica.db'));
  t.after(() => replica.close());
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
  const dir = tempDir();
  t.after(() => dir.remove());
  const port = await freePort();
  const client = new InternalApiClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2_000 });
  t.after(() => client.close());
  const replica = replicaOf(join(dir.path, 'replica.db'));
  t.after(() => replica.close());
  const log = captureLog();
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log });
  for (let i = 0; i < 5; i++) assert.equal(await replicator.step(), 'upstream-unavailable');
  assert.equal(log.matching(/WARNING cannot replicate from up/).length, 1, log.lines.join('\n'));
  assert.match(log.lines.join('\n'), /ECONNREFUSED/);
  assert.equal(replica.size(), 0);
});

test('replicator: sends the bearer token; a wrong one is refused by the upstream', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const upstreamTree = treeWith(join(dir.path, 'up.db'), randomLeaves(10));
  t.after(() => upstreamTree.close());
  const server = await serveInternal(treeSource(upstreamTree), { token: 's3cret' });
  t.after(() => server.close());
  const replica = replicaOf(join(dir.path, 'replica.db'));
  t.after(() => replica.close());

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
  const dir = tempDir();
  t.after(() => dir.remove());
  const logSigner = signerFromSeed(generateSeed());
  const otherSigner = signerFromSeed(generateSeed());
  const upstreamTree = treeWith(join(dir.path, 'up.db'), randomLeaves(300));
  t.after(() => upstreamTree.close());
  let published: CosignedTreeHead | undefined;
  const server = await serveInternal(treeSource(upstreamTree, () => published));
  t.after(() => server.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}`, timeoutMs: 5_000 });
  t.after(() => client.close());
  const path = join(dir.path, 'replica.db');
  const replica = replicaOf(path);
  t.after(() => replica.close());
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
  const dir = tempDir();
  t.after(() => dir.remove());
  const logSigner = signerFromSeed(generateSeed());
  const upstreamTree = treeWith(join(dir.path, 'up.db'), randomLeaves(50));
  t.after(() => upstreamTree.close());
  const forked = { ...signTreeHead(logSigner, { size: 40, rootHash: asHash(new Uint8Array(32).fill(1)) }), cosignatures: [] };
  const server = await serveInternal(treeSource(upstreamTree, () => forked));
  t.after(() => server.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}`, timeoutMs: 5_000 });
  t.after(() => client.close());
  const replica = replicaOf(join(dir.path, 'replica.db'));
  t.after(() => replica.close());
  const log = captureLog();
  const replicator = new Replicator({ store: replica, upstream: client, upstreamName: 'up', log, logPublicKey: logSigner.publicKey });
  assert.equal(await replicator.step(), 'diverged');
  assert.match(log.matching(/ERROR/).join('\n'), /diverged.*log signed a tree head of size 40/);
  assert.equal(replicator.publishedHead, undefined);
});
