import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadRequestError } from '../../src/errors.js';
import { toHex } from '../../src/hex.js';
import { parseTokenHeader } from '../../src/ratelimit/index.js';

const SIG = 'ab'.repeat(64);
const P = 'malformed sigsum-token header: ';

test('well-formed headers', () => {
  const h = parseTokenHeader(`Foo.Example.COM ${SIG.toUpperCase()}`);
  assert.equal(h.domain.name, 'foo.example.com');
  assert.equal(h.domain.ascii, 'foo.example.com');
  assert.equal(toHex(h.signature), SIG);

  const idn = parseTokenHeader(`bücher.example ${SIG}`);
  assert.equal(idn.domain.name, 'bücher.example');
  assert.equal(idn.domain.ascii, 'xn--bcher-kva.example');
});

test('malformed headers are 400 with a precise message', async (t) => {
  const cases: Array<[string, string]> = [
    ['', 'expected "<domain> <hex signature>" separated by one space, got 1 part(s)'],
    ['example.com', 'expected "<domain> <hex signature>" separated by one space, got 1 part(s)'],
    [SIG, 'expected "<domain> <hex signature>" separated by one space, got 1 part(s)'],
    [`example.com  ${SIG}`, 'expected "<domain> <hex signature>" separated by one space, got 3 part(s)'],
    [`example.com ${SIG} extra`, 'expected "<domain> <hex signature>" separated by one space, got 3 part(s)'],
    [`example.com\t${SIG}`, 'expected "<domain> <hex signature>" separated by one space, got 1 part(s)'],
    [` ${SIG}`, 'empty domain'],
    [`example.com `, 'signature must be 128 hex digits'],
    [`example.com ${SIG.slice(2)}`, 'signature must be 128 hex digits'],
    [`example.com ${SIG}ab`, 'signature must be 128 hex digits'],
    [`example.com ${'zz'.repeat(64)}`, 'signature must be 128 hex digits'],
    [`example..com ${SIG}`, 'invalid domain name "example..com": bad label ""'],
    [`example.com. ${SIG}`, 'invalid domain name "example.com.": bad label ""'],
    [`exa%mple.com ${SIG}`, 'invalid domain name "exa%mple.com"'],
    [`127.0.0.1 ${SIG}`, 'invalid domain name "127.0.0.1": numeric top-level label'],
    [`${'a'.repeat(64)}.com ${SIG}`, `invalid domain name "${'a'.repeat(64)}.com": bad label "${'a'.repeat(64)}"`],
    [`${'abcdefg.'.repeat(32)}com ${SIG}`, `domain name "${'abcdefg.'.repeat(32)}com" is longer than 253 characters`],
  ];
  for (const [value, message] of cases) {
    await t.test(JSON.stringify(value.slice(0, 40)), () => {
      assert.throws(() => parseTokenHeader(value), (e: unknown) => {
        assert.ok(e instanceof BadRequestError, `expected BadRequestError, got ${String(e)}`);
        assert.equal(e.status, 400);
        assert.equal(e.message, P + message);
        return true;
      });
    });
  }
});
