// Pushback and rate limits over real HTTP against a primary process: a full
// pending pool answers 503 with Retry-After; log-go rate-limit files and
// sigsum-token headers (checked against TXT records served by a DNS server
// on 127.0.0.1) answer 429 / 403 as configured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyHash } from '../../src/crypto/index.js';
import { toHex } from '../../src/hex.js';
import { submitTokenMessage } from '../../src/ratelimit/index.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { addLeaf, makeLeaf, submitUntilPublished, type TestLeaf } from '../helpers/submitter.js';
import { startDnsServer } from '../helpers/dns-server.js';

test('pushback: a full pending pool answers 503 with Retry-After, and recovers', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  // A pool of 5 that is flushed only every 5 s, so it fills up (the first
  // flush comes 5 s after start; filling takes milliseconds).
  const setup = await preparePrimary(dir.path, { interval: '200ms', primary: { 'max-pending': 5, 'batch-size': 1000, 'batch-interval': '5s' } });
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 6 }, () => makeLeaf(submitter));
  for (const l of leaves.slice(0, 5)) assert.equal(await addLeaf(setup.publicUrl, l), 202);
  // A pending leaf resubmitted is not a new one: still 202, not 503.
  assert.equal(await addLeaf(setup.publicUrl, leaves[0]!), 202);
  const res = await http(`${setup.publicUrl}/add-leaf`, { method: 'POST', body: leaves[5]!.body });
  assert.equal(res.status, 503);
  assert.match(res.body, /busy: 5 leaves are waiting/);
  assert.equal(res.headers.get('retry-after'), '1');
  // Once the pool is flushed the same leaf is accepted, and all are published.
  await waitUntil('the pool to drain', async () => ((await addLeaf(setup.publicUrl, leaves[5]!)) === 503 ? undefined : true), 20_000, 100);
  await submitUntilPublished(setup.publicUrl, leaves, 20_000);
});

test('rate limits: key limit, domain limit via sigsum-token, bad tokens', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const limited = makeKey(join(dir.path, 'limited.key'));
  const tokenKey = makeKey(join(dir.path, 'token.key'));
  const anonymous = makeKey(join(dir.path, 'anonymous.key'));
  writeFileSync(join(dir.path, 'rate-limits'), [`key ${toHex(keyHash(limited.publicKey))} 2`, 'domain example.org 3', ''].join('\n'));
  const setup = await preparePrimary(dir.path, {
    interval: '200ms',
    primary: { 'rate-limit-file': join(dir.path, 'rate-limits'), 'dns-resolver': dns.address },
  });
  dns.records.set('_sigsum_v1.example.org', [toHex(tokenKey.publicKey)]);
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const url = setup.publicUrl;

  // key limit 2: two new leaves, then 429; resubmitting a known leaf is not charged.
  const two = [makeLeaf(limited), makeLeaf(limited)];
  for (const l of two) assert.equal(await addLeaf(url, l), 202);
  // (200 once a rotation published it, 202 before: either way not 429.)
  assert.ok([200, 202].includes(await addLeaf(url, two[0]!)), 'a known leaf is answered without charging it');
  const over = await http(`${url}/add-leaf`, { method: 'POST', body: makeLeaf(limited).body });
  assert.equal(over.status, 429);
  assert.match(over.body, /exceeded: 2 new leaves per 24 hours/);

  // No token and no matching rule: refused.
  const anon = await http(`${url}/add-leaf`, { method: 'POST', body: makeLeaf(anonymous).body });
  assert.equal(anon.status, 429, anon.body);

  // A valid token for example.org: the domain limit of 3 applies.
  const token = `example.org ${toHex(tokenKey.sign(submitTokenMessage(setup.signer.publicKey)))}`;
  for (let i = 0; i < 3; i++) {
    assert.equal(await addLeaf(url, makeLeaf(anonymous), { 'sigsum-token': token }), 202);
  }
  const domainOver = await http(`${url}/add-leaf`, { method: 'POST', body: makeLeaf(anonymous).body, headers: { 'sigsum-token': token } });
  assert.equal(domainOver.status, 429);
  assert.match(domainOver.body, /example\.org/);

  // A token signed for another log, a malformed header, a domain without records.
  const otherLog = makeKey(join(dir.path, 'other-log.key'));
  const wrongLog = `example.org ${toHex(tokenKey.sign(submitTokenMessage(otherLog.publicKey)))}`;
  const cases: Array<[string, number, RegExp]> = [
    [wrongLog, 403, /sigsum-token for example\.org does not verify with any key at _sigsum_v1\.example\.org/],
    ['example.org', 400, /malformed sigsum-token header: expected "<domain> <hex signature>"/],
    [`example.org ${'ab'.repeat(10)}`, 400, /malformed sigsum-token header: signature must be 128 hex digits/],
    [`nowhere.example ${toHex(tokenKey.sign(submitTokenMessage(setup.signer.publicKey)))}`, 403, /no TXT record at _sigsum_v1\.nowhere\.example/],
  ];
  for (const [header, status, message] of cases) {
    const res = await http(`${url}/add-leaf`, { method: 'POST', body: makeLeaf(anonymous).body, headers: { 'sigsum-token': header } });
    assert.equal(res.status, status, `token "${header.slice(0, 30)}…": ${res.body}`);
    assert.match(res.body, message);
  }
  assert.ok(dns.queries.includes('_sigsum_v1.example.org'), 'the TXT record was looked up on our DNS server');
});

test('rate limits: concurrent copies of a leaf are charged once, at and below the limit', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const atLimit = makeKey(join(dir.path, 'one.key'));
  const belowLimit = makeKey(join(dir.path, 'two.key'));
  writeFileSync(join(dir.path, 'rate-limits'), [`key ${toHex(keyHash(atLimit.publicKey))} 1`, `key ${toHex(keyHash(belowLimit.publicKey))} 2`, ''].join('\n'));
  const setup = await preparePrimary(dir.path, { interval: '200ms', primary: { 'rate-limit-file': join(dir.path, 'rate-limits') } });
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const url = setup.publicUrl;
  const all = (sends: TestLeaf[]): Promise<number[]> => Promise.all(sends.map((l) => addLeaf(url, l)));

  // Limit 1: ten identical requests at once for one new leaf are all accepted; the next new leaf is over.
  const one = makeLeaf(atLimit);
  const statuses = await all(new Array(10).fill(one));
  assert.ok(statuses.every((s) => s === 202 || s === 200), `ten copies: ${statuses.join(' ')}`);
  assert.equal(await addLeaf(url, makeLeaf(atLimit)), 429);

  // Limit 2: copies of one leaf interleaved with another leaf; both fit.
  const a = makeLeaf(belowLimit);
  const b = makeLeaf(belowLimit);
  const mixed = await all([a, a, a, a, b, a, a, b, a, a]);
  assert.ok(mixed.every((s) => s === 202 || s === 200), `interleaved copies: ${mixed.join(' ')}`);
  assert.equal(await addLeaf(url, makeLeaf(belowLimit)), 429, 'a third leaf is over the limit of 2');
  await submitUntilPublished(url, [one, a, b], 20_000);
});

test('submit tokens are not looked at when they cannot change the answer: no rate-limit file, no domain rules, or a key rule', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const listed = makeKey(join(dir.path, 'listed.key'));
  const other = makeKey(join(dir.path, 'other.key'));
  const tokenKey = makeKey(join(dir.path, 'token.key'));
  dns.records.set('_sigsum_v1.example.org', [toHex(tokenKey.publicKey)]);
  // A token that would be 403 if it were checked (signed for another log).
  const bogus = `example.org ${toHex(tokenKey.sign(submitTokenMessage(makeKey(join(dir.path, 'x.key')).publicKey)))}`;
  const run = async (name: string, rules: string | undefined, sends: Array<[typeof listed, number]>, queried: boolean): Promise<void> => {
    const sub = join(dir.path, name);
    const primaryKeys: Record<string, string> = { 'dns-resolver': dns.address };
    if (rules !== undefined) {
      writeFileSync(join(dir.path, `${name}.rules`), rules);
      primaryKeys['rate-limit-file'] = join(dir.path, `${name}.rules`);
    }
    const setup = await preparePrimary(sub, { interval: '200ms', primary: primaryKeys });
    const primary = await startNodeProcess('primary', setup);
    try {
      const before = dns.queries.length;
      for (const [signer, status] of sends) {
        const res = await http(`${setup.publicUrl}/add-leaf`, { method: 'POST', body: makeLeaf(signer).body, headers: { 'sigsum-token': bogus } });
        assert.equal(res.status, status, `${name}: ${res.body}`);
      }
      assert.equal(dns.queries.length > before, queried, `${name}: DNS queried: ${dns.queries.slice(before).join(', ')}`);
    } finally {
      await primary.kill9();
    }
  };
  const keyLine = `key ${toHex(keyHash(listed.publicKey))} 10\n`;
  await run('no-file', undefined, [[other, 202]], false);
  await run('keys-only', keyLine, [[listed, 202], [other, 429]], false);
  await run('key-rule-first', `${keyLine}domain example.org 10\n`, [[listed, 202]], false);
  // The check that proves the others: with a domain rule, an unlisted key's token is looked up (and refused).
  await run('domain-rule', `${keyLine}domain example.org 10\n`, [[other, 403]], true);
});
