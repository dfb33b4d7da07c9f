// Checkpoint freshness: an idle tree is re-cosigned (timestamps advance), but
// only every idle-interval, while a growing tree is cosigned every interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { waitUntil } from '../helpers/node-process.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { policyText, startOurWitness, startPrimaryWithPolicy, treeHead, witnessSpecs } from './cluster.js';

const IDLE_MS = 4000;

test('idle tree: cosignatures refreshed every idle-interval; a growing tree is cosigned every interval', async (t) => {
  const dir = tempDir('sigsum-idle-');
  t.after(() => dir.remove());
  const [spec] = await witnessSpecs(dir.path, 1);
  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '300ms', idleInterval: `${IDLE_MS}ms` }, async (setup, logPub) => {
    await startOurWitness(t, spec!, logPub);
    return policyText(setup.signer, setup.publicUrl, [spec!], 'quorum w1');
  });
  const stamp = async (): Promise<number> => {
    const head = await treeHead(c);
    assert.equal(head.cosignatures.length, 1);
    return head.cosignatures[0]!.timestamp;
  };
  const first = await waitUntil('a cosigned head', async () => {
    const h = await treeHead(c);
    return h.cosignatures.length === 1 ? h.cosignatures[0]!.timestamp : undefined;
  });

  // The idle tree is re-cosigned: the timestamp advances.
  const refreshed = await waitUntil('a fresher cosignature on the idle tree', async () => {
    const now = await stamp();
    return now > first ? now : undefined;
  }, IDLE_MS + 6000, 100);

  // ...but not every interval (300 ms): for most of an idle-interval after a
  // refresh, the cosignature stays the same.
  const windowEnd = Date.now() + IDLE_MS - 1000;
  while (Date.now() < windowEnd) {
    assert.equal(await stamp(), refreshed, 'no refresh before idle-interval has passed');
    await new Promise((r) => setTimeout(r, 100));
  }

  // A growing tree is not held back by idle-interval.
  const started = Date.now();
  await submitUntilPublished(c.setup.publicUrl, [makeLeaf(makeKey(join(dir.path, 'submitter.key')))], 10_000);
  const took = Date.now() - started;
  assert.ok(took < IDLE_MS - 500, `a new leaf was published after ${took} ms, within a few intervals rather than an idle-interval`);
});
