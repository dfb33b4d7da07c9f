import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519Verify, generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { VerifyPool } from '../../src/crypto/verify-pool.js';
import { UnavailableError } from '../../src/errors.js';
import { asPublicKey, asSignature } from '../../src/types.js';

test('verify pool agrees with ed25519Verify on good, bad and malformed input', async (t) => {
  const pool = new VerifyPool(2);
  t.after(() => pool.close());
  const signers = Array.from({ length: 5 }, () => signerFromSeed(generateSeed()));
  const cases = Array.from({ length: 400 }, (_v, i) => {
    const signer = signers[i % signers.length]!;
    const message = new Uint8Array(i % 7 === 0 ? 0 : 56).fill(i & 0xff);
    const signature = new Uint8Array(signer.sign(message));
    if (i % 3 === 1) signature[i % 64]! ^= 1; // corrupt
    const publicKey = i % 11 === 5 ? asPublicKey(new Uint8Array(32).fill(0xff)) : signer.publicKey; // not a curve point
    return { publicKey, message, signature: asSignature(signature) };
  });
  const got = await Promise.all(cases.map((c) => pool.verify(c.publicKey, c.message, c.signature)));
  const want = cases.map((c) => ed25519Verify(c.publicKey, c.message, c.signature));
  assert.deepEqual(got, want);
  assert.ok(want.some((x) => x) && want.some((x) => !x), 'both outcomes covered');
});

test('a worker that dies is replaced and its requests are verified by the others', async (t) => {
  const pool = new VerifyPool(2);
  t.after(() => pool.close());
  const signer = signerFromSeed(generateSeed());
  const message = new Uint8Array(56).fill(9);
  const signature = signer.sign(message);
  const pending = Array.from({ length: 200 }, () => pool.verify(signer.publicKey, message, signature));
  // Kill one worker while requests are queued or in flight.
  const workers = (pool as unknown as { workers: Array<{ worker: { terminate(): Promise<number> } }> }).workers;
  await workers[0]!.worker.terminate();
  const results = await Promise.all(pending);
  assert.ok(results.every((ok) => ok), 'every valid signature still verifies');
  assert.equal(await pool.verify(signer.publicKey, message, signature), true, 'the pool keeps working');
});

test('closing the pool answers every unanswered request with 503, never with a verdict', async () => {
  const pool = new VerifyPool(1);
  const signer = signerFromSeed(generateSeed());
  const message = new Uint8Array(56).fill(3);
  const signature = signer.sign(message);
  // More than one worker holds (4 batches of 8), so some are still queued at close.
  const settled = Promise.allSettled(Array.from({ length: 100 }, () => pool.verify(signer.publicKey, message, signature)));
  await pool.close();
  const outcomes = await settled;
  for (const o of outcomes) {
    if (o.status === 'fulfilled') assert.equal(o.value, true, 'an answered request is answered truly');
    else assert.ok(o.reason instanceof UnavailableError && /shutting down/.test(o.reason.message), String(o.reason));
  }
  assert.ok(outcomes.some((o) => o.status === 'rejected'), 'some requests were still unanswered at close');
  await assert.rejects(pool.verify(signer.publicKey, message, signature), UnavailableError);
});
