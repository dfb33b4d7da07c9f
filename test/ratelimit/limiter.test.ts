import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimitedError } from '../../src/errors.js';
import { sha256 } from '../../src/crypto/index.js';
import { toHex } from '../../src/hex.js';
import { classify, parseRateLimitConfig, RateLimiter, type Submitter } from '../../src/ratelimit/index.js';
import { HOUR_MS, SlidingWindowCounter } from '../../src/ratelimit/window.js';

const keyA = sha256(new Uint8Array([1]));
const keyB = sha256(new Uint8Array([2]));
const keyC = sha256(new Uint8Array([3]));

const config = parseRateLimitConfig(
  `key ${toHex(keyA)} 3
key ${toHex(keyC)} 0
domain example.org 2
domain big.example.org 5
public psl.dat 1
`,
  { readSuffixFile: () => 'com\norg\nco.uk\n' },
);

function expect429(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RateLimitedError, `expected RateLimitedError, got ${String(e)}`);
    assert.equal(e.status, 429);
    assert.equal(e.message, message);
    return true;
  });
}

test('classification follows log-go precedence', () => {
  const cases: Array<[string, Submitter, ReturnType<typeof classify>]> = [
    ['key line wins over token domain', { keyHash: keyA, domain: 'big.example.org' }, { kind: 'key', subject: toHex(keyA), limit: 3 }],
    ['key line without token', { keyHash: keyA }, { kind: 'key', subject: toHex(keyA), limit: 3 }],
    ['exact domain line', { keyHash: keyB, domain: 'example.org' }, { kind: 'domain', subject: 'example.org', limit: 2 }],
    ['subdomain shares the parent line', { keyHash: keyB, domain: 'a.b.example.org' }, { kind: 'domain', subject: 'example.org', limit: 2 }],
    ['longest domain line wins', { keyHash: keyB, domain: 'x.big.example.org' }, { kind: 'domain', subject: 'big.example.org', limit: 5 }],
    ['label boundary respected', { keyHash: keyB, domain: 'notexample.org' }, { kind: 'public', subject: 'notexample.org', limit: 1 }],
    ['public: registered domain', { keyHash: keyB, domain: 'a.b.shop.co.uk' }, { kind: 'public', subject: 'shop.co.uk', limit: 1 }],
    ['test domain banned', { keyHash: keyB, domain: 'x.test.sigsum.org' }, { kind: 'domain', subject: 'test.sigsum.org', limit: 0 }],
    ['no token, unknown key', { keyHash: keyB }, `submitter key ${toHex(keyB)} is not allow-listed and the request has no sigsum-token header`],
    ['unknown public suffix', { keyHash: keyB, domain: 'a.example.invalid' }, 'domain "a.example.invalid" is not under a known public suffix'],
  ];
  for (const [name, submitter, want] of cases) assert.deepEqual(classify(config, submitter), want, name);

  const closed = parseRateLimitConfig('domain example.org 1\n', { readSuffixFile: () => '' });
  assert.equal(
    classify(closed, { keyHash: keyB, domain: 'other.com' }),
    'domain "other.com" is not allow-listed and this log does not accept public submissions',
  );
});

test('limit reached gives 429 naming the limit', () => {
  const limiter = new RateLimiter(config, () => 0);
  for (let i = 0; i < 3; i++) limiter.admit({ keyHash: keyA });
  expect429(() => limiter.admit({ keyHash: keyA }), `rate limit for submitter key ${toHex(keyA)} exceeded: 3 new leaves per 24 hours`);

  limiter.admit({ keyHash: keyB, domain: 'a.example.org' });
  limiter.admit({ keyHash: keyB, domain: 'b.example.org' });
  expect429(() => limiter.admit({ keyHash: keyB, domain: 'example.org' }), 'rate limit for domain "example.org" exceeded: 2 new leaves per 24 hours');
  // big.example.org has its own counter.
  limiter.admit({ keyHash: keyB, domain: 'big.example.org' });

  limiter.admit({ keyHash: keyB, domain: 'www.shop.com' });
  expect429(() => limiter.admit({ keyHash: keyB, domain: 'api.shop.com' }), 'public rate limit for registered domain "shop.com" exceeded: 1 new leaves per 24 hours');
  limiter.admit({ keyHash: keyB, domain: 'other-shop.com' });

  expect429(() => limiter.admit({ keyHash: keyC }), `rate limit for submitter key ${toHex(keyC)} is 0: submissions are not allowed`);
  expect429(() => limiter.admit({ keyHash: keyB, domain: 'test.sigsum.org' }), 'rate limit for domain "test.sigsum.org" is 0: submissions are not allowed');
  expect429(() => limiter.admit({ keyHash: keyB }), `submission refused: submitter key ${toHex(keyB)} is not allow-listed and the request has no sigsum-token header`);
});

test('the window slides: charges expire after 24 to 25 hours, not all at once', () => {
  let now = 10 * HOUR_MS + 30 * 60 * 1000; // half past ten
  const limiter = new RateLimiter(config, () => now);
  const a: Submitter = { keyHash: keyA };
  limiter.admit(a); // at 10:30
  now += 6 * HOUR_MS;
  limiter.admit(a); // at 16:30
  limiter.admit(a);
  expect429(() => limiter.admit(a), `rate limit for submitter key ${toHex(keyA)} exceeded: 3 new leaves per 24 hours`);

  now = 10 * HOUR_MS + 24 * HOUR_MS + 59 * 60 * 1000; // 24.5 h after the first charge: still counted
  expect429(() => limiter.admit(a), `rate limit for submitter key ${toHex(keyA)} exceeded: 3 new leaves per 24 hours`);
  now = 10 * HOUR_MS + 25 * HOUR_MS; // the first charge's hour has left the window
  assert.equal(limiter.used(a), 2);
  limiter.admit(a);
  expect429(() => limiter.admit(a), `rate limit for submitter key ${toHex(keyA)} exceeded: 3 new leaves per 24 hours`);

  now = 16 * HOUR_MS + 25 * HOUR_MS; // the two 16:30 charges expire as well
  assert.equal(limiter.used(a), 1);
});

test('only new leaves count: refund undoes a charge, once', () => {
  const limiter = new RateLimiter(config, () => 0);
  const s: Submitter = { keyHash: keyB, domain: 'example.org' };
  const first = limiter.admit(s);
  assert.deepEqual(first.charge, { kind: 'domain', subject: 'example.org', limit: 2 });
  // Resubmissions of the same leaf: each is admitted, then refunded when
  // storage reports the leaf as already known.
  for (let i = 0; i < 5; i++) limiter.admit(s).refund();
  first.refund();
  first.refund(); // idempotent: must not free someone else's charge
  assert.equal(limiter.used(s), 0);
  limiter.admit(s);
  limiter.admit(s);
  expect429(() => limiter.admit(s), 'rate limit for domain "example.org" exceeded: 2 new leaves per 24 hours');
});

test('a refund after the charge expired does not go negative', () => {
  let now = 0;
  const limiter = new RateLimiter(config, () => now);
  const s: Submitter = { keyHash: keyB, domain: 'example.org' };
  const old = limiter.admit(s);
  now = 30 * HOUR_MS;
  limiter.admit(s);
  old.refund();
  assert.equal(limiter.used(s), 1);
});

test('memory is bounded: expired keys are dropped', () => {
  let now = 0;
  const counter = new SlidingWindowCounter(() => now);
  for (let i = 0; i < 1000; i++) counter.add(`k${i}`);
  assert.equal(counter.size, 1000);
  now = 24 * HOUR_MS;
  counter.add('fresh');
  assert.equal(counter.size, 1001);
  now = 25 * HOUR_MS;
  assert.equal(counter.count('fresh'), 1);
  assert.equal(counter.size, 1);
  // A clock stepping back and forth keeps one bucket per hour.
  for (let i = 0; i < 100; i++) {
    now = (i % 2 === 0 ? 25 : 24) * HOUR_MS;
    counter.add('fresh');
  }
  now = 25 * HOUR_MS;
  assert.equal(counter.count('fresh'), 101);
  const internals = counter as unknown as { counts: Map<string, unknown[]> };
  assert.equal(internals.counts.get('fresh')?.length, 2);
});
