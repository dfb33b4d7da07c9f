// The sequencer over a real SQLite tree: a large backlog (what a stall such
// as a full disk leaves behind) is sequenced in bounded slices, one
// transaction each, and HTTP requests and timers run between the slices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Sequencer, type SequencingStore } from '../../src/primary/sequencer.js';
import { TreeStore } from '../../src/tree/store.js';
import { leafHash } from '../../src/tree/hash.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../helpers/log-fixture.js';
import { freePort, http, waitUntil } from '../helpers/node-process.js';
import { randomLeaves } from '../replication/fixture.js';

test('sequencer: a backlog is sequenced slice by slice while HTTP requests and timers are answered', async (t) => {
  const dir = tempDir();
  const tree = TreeStore.open(join(dir.path, 'log.db'));
  t.after(() => {
    tree.close();
    dir.remove();
  });
  // The real store, with its transactions counted.
  let transactions = 0;
  const store: SequencingStore = {
    appendLeaves: (leaves) => {
      transactions++;
      return tree.appendLeaves(leaves);
    },
    indexOfLeafHash: (h) => tree.indexOfLeafHash(h),
  };
  const batchSize = 100;
  const backlog = 10_000;
  const sequencer = new Sequencer(store, { batchSize, batchIntervalMs: 1_000_000, maxPending: backlog }, createLogger('error'));

  // A real HTTP server in this process, answering with the number of transactions so far.
  const port = await freePort();
  const server = createServer((_req, res) => res.end(String(transactions)));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const seenByHttp: number[] = [];
  const seenByTimer: number[] = [];
  let clientDone = false;
  const client = (async () => {
    while (!clientDone) seenByHttp.push(Number((await http(`http://127.0.0.1:${port}/`)).body));
  })();
  await waitUntil('the HTTP client to get answers', () => (seenByHttp.length > 0 ? true : undefined));
  const timer = setInterval(() => seenByTimer.push(transactions), 1);
  t.after(() => clearInterval(timer));

  for (const leaf of randomLeaves(backlog)) sequencer.enqueue(leaf, leafHash(leaf));
  await waitUntil('the backlog to be sequenced', () => (tree.size() === backlog ? true : undefined), 60_000);
  clientDone = true;
  await client;
  clearInterval(timer);

  const slices = backlog / batchSize;
  assert.equal(transactions, slices, 'one transaction per slice of batch-size leaves');
  const between = (seen: number[]): number[] => seen.filter((n) => n > 0 && n < slices);
  assert.ok(between(seenByHttp).length > 0, `an HTTP request was answered between slices (saw ${[...new Set(seenByHttp)].join(',')})`);
  assert.ok(between(seenByTimer).length > 0, `a timer fired between slices (saw ${[...new Set(seenByTimer)].join(',')})`);
  assert.equal(sequencer.pendingCount, 0);
});

test('sequencer: stop sequences the whole pool, slice by slice', async (t) => {
  const dir = tempDir();
  const tree = TreeStore.open(join(dir.path, 'log.db'));
  t.after(() => {
    tree.close();
    dir.remove();
  });
  const sequencer = new Sequencer(tree, { batchSize: 1000, batchIntervalMs: 1_000_000, maxPending: 10_000 }, createLogger('error'));
  sequencer.start();
  const leaves = randomLeaves(2_500);
  for (const leaf of leaves) sequencer.enqueue(leaf, leafHash(leaf));
  await sequencer.stop();
  assert.equal(tree.size(), 2_500);
  assert.equal(sequencer.pendingCount, 0);
});

test('sequencer: the timer sequences small batches again and again', async (t) => {
  const dir = tempDir();
  const tree = TreeStore.open(join(dir.path, 'log.db'));
  const sequencer = new Sequencer(tree, { batchSize: 1000, batchIntervalMs: 20, maxPending: 10_000 }, createLogger('error'));
  t.after(async () => {
    await sequencer.stop();
    tree.close();
    dir.remove();
  });
  sequencer.start();
  for (let round = 1; round <= 3; round++) {
    for (const leaf of randomLeaves(5)) sequencer.enqueue(leaf, leafHash(leaf));
    await waitUntil(`round ${round} sequenced`, () => (tree.size() === 5 * round ? true : undefined));
  }
});
