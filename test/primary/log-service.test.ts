// PrimaryLog.addLeaf over a real SQLite tree and sequencer: which requests
// are verified, which are charged, and when the answer turns from 202 to 200.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ed25519Verify, generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { ForbiddenError, RateLimitedError, UnavailableError } from '../../src/errors.js';
import { signLeaf } from '../../src/formats/leaf.js';
import type { AddLeafRequest } from '../../src/formats/messages.js';
import { PrimaryLog, type SubmissionLimiter } from '../../src/primary/log-service.js';
import { PublishedHead } from '../../src/primary/published-head.js';
import { Sequencer } from '../../src/primary/sequencer.js';
import { VerificationSlots } from '../../src/primary/verification-slots.js';
import { RateLimiter } from '../../src/ratelimit/index.js';
import { keyHash } from '../../src/crypto/index.js';
import { toHex } from '../../src/hex.js';
import { TreeStore } from '../../src/tree/store.js';
import { asHash, asSignature, type Hash } from '../../src/types.js';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../helpers/log-fixture.js';

/** With `held`, each signature check waits until the test releases it by its position. */
function setup(t: { after(fn: () => void): void }, limiter?: SubmissionLimiter, held = false, slots = new VerificationSlots(1024, 128)) {
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
  const log = new PrimaryLog(verify, sequencer, published, limiter, slots);
  const publish = (): void => published.replace({ ...published.current, size: tree.size(), rootHash: tree.rootAt(tree.size()) });
  return { tree, sequencer, published, verified, log, publish, slots };
}

const signer = signerFromSeed(generateSeed());
function request(): AddLeafRequest {
  const message = asHash(new Uint8Array(randomBytes(32)));
  return { message, signature: signLeaf(signer, message).signature, publicKey: signer.publicKey };
}

test('a known leaf, pending or sequenced, is answered without verifying it again', async (t) => {
  const { sequencer, verified, log, publish } = setup(t);
  const req = request();
  assert.equal(await log.addLeaf(req, undefined, '127.0.0.2'), false);
  assert.equal(verified.length, 1);
  assert.equal(sequencer.pendingCount, 1);
  assert.equal(await log.addLeaf(req, undefined, '127.0.0.2'), false, 'pending: 202');
  assert.equal(sequencer.flush(), 1);
  assert.equal(await log.addLeaf(req, undefined, '127.0.0.2'), false, 'sequenced but not published: 202');
  publish();
  assert.equal(await log.addLeaf(req, undefined, '127.0.0.2'), true, 'published: 200');
  assert.equal(verified.length, 1, 'verified once, when first accepted');
});

test('a bad signature is 403 and queues nothing, every time', async (t) => {
  const { sequencer, verified, log } = setup(t);
  const req = request();
  const forged = { ...req, signature: asSignature(Uint8Array.from(req.signature, (b, i) => (i === 0 ? b ^ 1 : b))) };
  for (let i = 0; i < 2; i++) await assert.rejects(log.addLeaf(forged, undefined, '127.0.0.2'), ForbiddenError);
  assert.equal(sequencer.pendingCount, 0);
  assert.equal(verified.length, 2);
});

test('copies of a new leaf sent at once are verified once, queued once, sequenced once and charged once', async (t) => {
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
    // Copies from two addresses while the first one's signature check is held.
    const copies = [log.addLeaf(req, undefined, '127.0.0.2'), log.addLeaf(req, undefined, '127.0.0.3'), log.addLeaf(req, undefined, '127.0.0.2')];
    assert.equal(verified.length, 1, 'one signature check for all copies');
    verified.release(0);
    assert.deepEqual(await Promise.all(copies), [false, false, false]);
    assert.equal(sequencer.pendingCount, 1);
    assert.equal(sequencer.flush(), 1);
    assert.equal(tree.size(), 1, 'one leaf in the tree');
    if (withLimiter) assert.equal(charged, 1, 'charged once');
  }
});

test('copies of a forged leaf sent at once all get 403 from one check', async (t) => {
  const { sequencer, verified, log } = setup(t, undefined, true);
  const req = request();
  const forged = { ...req, signature: asSignature(Uint8Array.from(req.signature, (b, i) => (i === 0 ? b ^ 1 : b))) };
  const copies = Array.from({ length: 5 }, () => log.addLeaf(forged, undefined, '127.0.0.3'));
  verified.release(0);
  for (const c of copies) await assert.rejects(c, ForbiddenError);
  assert.equal(verified.length, 1);
  assert.equal(sequencer.pendingCount, 0);
});

test('a rate limit of 1: ten copies of a leaf at once are all accepted and use the one slot; a second leaf is 429', async (t) => {
  const config = { keys: new Map([[toHex(keyHash(signer.publicKey)), 1]]), domains: new Map<string, number>() };
  const limiter = new RateLimiter(config);
  const adapter: SubmissionLimiter = { admit: async (kh) => limiter.admit({ keyHash: kh }) };
  const { log, verified, sequencer } = setup(t, adapter, true);
  const req = request();
  const copies = Array.from({ length: 10 }, (_v, i) => log.addLeaf(req, undefined, `127.0.0.${2 + (i % 2)}`));
  verified.release(0);
  assert.deepEqual(await Promise.all(copies), new Array(10).fill(false), 'ten times 202');
  assert.equal(limiter.used({ keyHash: keyHash(signer.publicKey) }), 1);
  assert.equal(await log.addLeaf(req, undefined, '127.0.0.2'), false, 'a copy after admission: 202, not charged');
  const other = log.addLeaf(request(), undefined, '127.0.0.2');
  verified.release(1);
  await assert.rejects(other, RateLimitedError);
  assert.equal(sequencer.pendingCount, 1);
});

test('a rate limit of 2: copies of one leaf in flight do not take the slot of another leaf', async (t) => {
  const config = { keys: new Map([[toHex(keyHash(signer.publicKey)), 2]]), domains: new Map<string, number>() };
  const limiter = new RateLimiter(config);
  const adapter: SubmissionLimiter = { admit: async (kh) => limiter.admit({ keyHash: kh }) };
  const { log, verified, sequencer } = setup(t, adapter, true);
  const a = request();
  const b = request();
  const answers = [
    ...Array.from({ length: 6 }, () => log.addLeaf(a, undefined, '127.0.0.2')),
    log.addLeaf(b, undefined, '127.0.0.3'),
    ...Array.from({ length: 3 }, () => log.addLeaf(a, undefined, '127.0.0.3')),
  ];
  assert.equal(verified.length, 2, 'one check per distinct leaf');
  verified.release(1);
  verified.release(0);
  assert.deepEqual(await Promise.all(answers), new Array(10).fill(false));
  assert.equal(sequencer.pendingCount, 2);
  assert.equal(limiter.used({ keyHash: keyHash(signer.publicKey) }), 2);
});

test('verification slots: beyond the per-client and the total bound, 503 without verifying; other clients still get in', async (t) => {
  const { log, verified, slots } = setup(t, undefined, true, new VerificationSlots(5, 3));
  const held = Array.from({ length: 3 }, () => log.addLeaf(request(), undefined, '127.0.0.3'));
  await assert.rejects(log.addLeaf(request(), undefined, '127.0.0.3'), (e: unknown) => e instanceof UnavailableError && /from your address/.test(e.message));
  assert.equal(verified.length, 3, 'the refused request was not verified');
  // Another client has room until the total bound.
  const others = [log.addLeaf(request(), undefined, '127.0.0.2'), log.addLeaf(request(), undefined, '127.0.0.4')];
  await assert.rejects(log.addLeaf(request(), undefined, '127.0.0.5'), (e: unknown) => e instanceof UnavailableError && /5 signature checks are in progress/.test(e.message));
  assert.equal(slots.inUse, 5);
  for (let i = 0; i < 5; i++) verified.release(i);
  assert.deepEqual(await Promise.all([...held, ...others]), [false, false, false, false, false]);
  assert.equal(slots.inUse, 0);
  assert.equal(slots.clients, 0, 'no entry is kept for a client without checks in progress');
  // Slots are released after a failed check too.
  const req = request();
  const forged = { ...req, signature: asSignature(Uint8Array.from(req.signature, (b, i) => (i === 0 ? b ^ 1 : b))) };
  const bad = log.addLeaf(forged, undefined, '127.0.0.3');
  verified.release(5);
  await assert.rejects(bad, ForbiddenError);
  assert.equal(slots.inUse, 0);
});
