import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { cachingResolver, createDnsResolver, parseResolverAddress, type TxtAnswer, type TxtResolver } from '../../src/ratelimit/index.js';
import { startDnsServer } from '../helpers/dns-server.js';

const T = { timeout: 10_000 };

test('resolver addresses', () => {
  const good: Array<[string, string]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['127.0.0.1:5353', '127.0.0.1:5353'],
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['[::1]:5353', '[::1]:5353'],
  ];
  for (const [input, want] of good) assert.equal(parseResolverAddress(input), want, input);
  for (const bad of ['', 'localhost', 'localhost:53', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:', '1.2.3:53', '[127.0.0.1]:53', '::1:53x']) {
    assert.throws(() => parseResolverAddress(bad), (e: unknown) => {
      assert.ok(e instanceof ConfigError, bad);
      assert.equal(e.message, `invalid DNS resolver address ${JSON.stringify(bad)}: expected IP, IP:port or [IPv6]:port`);
      return true;
    });
  }
});

test('node:dns resolver against the test server: found, NXDOMAIN, NODATA', T, async (t) => {
  const dns = await startDnsServer({ 'a.example': ['one', ['two', '-parts']], 'b.example': [] });
  t.after(() => dns.close());
  const resolver = createDnsResolver({ server: dns.address, timeoutMs: 2000 });
  const a = await resolver.lookupTxt('a.example');
  assert.ok(a.found);
  assert.deepEqual([...a.records].sort(), ['one', 'two-parts']);
  assert.deepEqual(await resolver.lookupTxt('missing.example'), { found: false });
  assert.deepEqual(await resolver.lookupTxt('b.example'), { found: false });
});

test('a lookup the server never answers fails within the timeout', T, async (t) => {
  const dns = await startDnsServer({});
  t.after(() => dns.close());
  dns.silent.add('slow.example');
  const resolver = createDnsResolver({ server: dns.address, timeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(resolver.lookupTxt('slow.example'), { code: 'ETIMEOUT' });
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 2000, `took ${elapsed} ms`);
});

function fakeResolver(answers: Map<string, TxtAnswer | Error>) {
  const calls: string[] = [];
  const resolver: TxtResolver = {
    async lookupTxt(name) {
      calls.push(name);
      const a = answers.get(name);
      if (a instanceof Error) throw a;
      return a ?? { found: false };
    },
  };
  return { resolver, calls };
}

test('cache: positive and negative TTLs, no caching of failures, shared in-flight queries, bounded size', async () => {
  let now = 0;
  const answers = new Map<string, TxtAnswer | Error>([
    ['pos', { found: true, records: ['k'] }],
    ['fail', new Error('SERVFAIL')],
  ]);
  const { resolver, calls } = fakeResolver(answers);
  const cache = cachingResolver(resolver, { now: () => now, positiveTtlMs: 100, negativeTtlMs: 10, maxEntries: 3 });

  await Promise.all([cache.lookupTxt('pos'), cache.lookupTxt('POS')]);
  assert.deepEqual(calls, ['pos']);
  now = 99;
  await cache.lookupTxt('pos');
  assert.deepEqual(calls, ['pos']);
  now = 100;
  await cache.lookupTxt('pos');
  assert.deepEqual(calls, ['pos', 'pos']);

  calls.length = 0;
  assert.deepEqual(await cache.lookupTxt('neg'), { found: false });
  now += 9;
  await cache.lookupTxt('neg');
  assert.deepEqual(calls, ['neg']);
  now += 1;
  await cache.lookupTxt('neg');
  assert.deepEqual(calls, ['neg', 'neg']);

  calls.length = 0;
  await assert.rejects(cache.lookupTxt('fail'), /SERVFAIL/);
  await assert.rejects(cache.lookupTxt('fail'), /SERVFAIL/);
  assert.deepEqual(calls, ['fail', 'fail']);

  // Cache holds pos and neg; two more names evict the oldest (pos).
  calls.length = 0;
  await cache.lookupTxt('x1');
  await cache.lookupTxt('x2');
  await cache.lookupTxt('neg');
  await cache.lookupTxt('pos');
  assert.deepEqual(calls, ['x1', 'x2', 'pos']);
});
