// PrimaryLog.addLeaf over a real SQLite tree and sequencer: which requests
// are verified, which are charged, and when the answer turns from 202 to 200.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ed25519Verify, generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { ForbiddenError } from '../../src/errors.js';
import { signLeaf } from '../../src/formats/leaf.js';
import type { AddLeafRequest } from '../../src/formats/messages.js';
import { PrimaryLog, type SubmissionLimiter } from '../../src/primary/log-service.js';
import { PublishedHead } from '../../src/primary/published-head.js';
import { Sequencer } from '../../src/primary/sequencer.js';
import { TreeStore } from '../../src/tree/store.js';
import { asHash, asSignature, type Hash } from '../../src/types.js';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../helpers/log-fixture.js';

/** With `held`, each signature check waits until the test releases it by its position. */
function setup(t: { after(fn: () => void): void }, limiter?: SubmissionLimiter, held = false) {
  const dir = tempDir();
  const tree = TreeStore.open(join(dir.path, 'log.db'));
  t.after(() => {
    tree.close();
    dir.remove();
  });
  const sequencer = new Sequencer(tree, { batchSize: 1000, batchIntervalMs: 1_000_000, maxPending: 100 }, createLogger('error'));
  const published = new PublishedHead({ size: 0, rootHash: tree.rootAt(0), signature: asSignature(new Uint8Array(64)), cosignatures: [] });
  const releases: Array<() => void> = [];
  const verified = Object.assign([] as Hash[], { release: (i: number) => releases[i]?.() });
  const verify = async (...args: Parameters<typeof ed25519Verify>): Promise<boolean> => {
    verified.push(asHash(new Uint8Array(args[1].subarray(-32))));
    if (held) await new Promise<void>((resolve) => releases.push(resolve));
    return ed25519Verify(...args);
  };
  const log = new PrimaryLog(verify, tree, sequencer, published, 512, limiter);
  const publish = (): void => published.replace({ ...published.current, size: tree.size(), rootHash: tree.rootAt(tree.size()) });
  return { tree, sequencer, published, verified, log, publish };
}

const signer = signerFromSeed(generateSeed());
function request(): AddLeafRequest {
  const message = asHash(new Uint8Array(randomBytes(32)));
  return { message, signature: signLeaf(signer, message).signature, publicKey: signer.publicKey };
}

test('a known leaf, pending or sequenced, is answered without verifying it again', async (t) => {
  const { sequencer, verified, log, publish } = setup(t);
  const req = request();
  assert.equal(await log.addLeaf(req, undefined), false);
  assert.equal(verified.length, 1);
  assert.equal(sequencer.pendingCount, 1);
  assert.equal(await log.addLeaf(req, undefined), false, 'pending: 202');
  assert.equal(sequencer.flush(), 1);
  assert.equal(await log.addLeaf(req, undefined), false, 'sequenced but not published: 202');
  publish();
  assert.equal(await log.addLeaf(req, undefined), true, 'published: 200');
  assert.equal(verified.length, 1, 'verified once, when first accepted');
});

test('a bad signature is 403 and queues nothing, every time', async (t) => {
  const { sequencer, verified, log } = setup(t);
  const req = request();
  const forged = { ...req, signature: asSignature(Uint8Array.from(req.signature, (b, i) => (i === 0 ? b ^ 1 : b))) };
  for (let i = 0; i < 2; i++) await assert.rejects(log.addLeaf(forged, undefined), ForbiddenError);
  assert.equal(sequencer.pendingCount, 0);
  assert.equal(verified.length, 2);
});

test('the same new leaf sent twice at once is queued once, sequenced once and charged once', async (t) => {
  for (const withLimiter of [false, true]) {
    let charged = 0;
    const limiter: SubmissionLimiter = {
      admit: async () => {
        charged++;
        return { refund: () => void charged-- };
      },
    };
    const { tree, sequencer, log, verified } = setup(t, withLimiter ? limiter : undefined, true);
    const req = request();
    // Both requests find the leaf unknown and wait for their signature check.
    const first = log.addLeaf(req, undefined);
    const second = log.addLeaf(req, undefined);
    assert.equal(verified.length, 2);
    // The first is queued and sequenced before the second's check completes.
    verified.release(0);
    assert.equal(await first, false);
    assert.equal(sequencer.pendingCount, 1);
    assert.equal(sequencer.flush(), 1);
    verified.release(1);
    assert.equal(await second, false);
    sequencer.flush();
    assert.equal(tree.size(), 1, 'one leaf in the tree');
    if (withLimiter) assert.equal(charged, 1, 'charged once');
  }
});
