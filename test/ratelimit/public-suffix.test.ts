import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePublicSuffixList } from '../../src/ratelimit/index.js';

// A slice of the real list's shapes: plain, multi-label, wildcard with exception, IDN.
const LIST = `// ===BEGIN ICANN DOMAINS===
com
uk
co.uk
*.ck
!www.ck
// IDN rule in U-label form
公司.cn
cn
  github.io   trailing text is ignored
`;

test('registered domain is the matching suffix plus one label', () => {
  const psl = parsePublicSuffixList(LIST);
  const cases: Array<[string, string | undefined]> = [
    ['example.com', 'example.com'],
    ['a.b.example.com', 'example.com'],
    ['x.example.co.uk', 'example.co.uk'],
    ['example.uk', 'example.uk'],
    ['foo.bar.ck', 'foo.bar.ck'], // *.ck makes bar.ck a suffix
    ['a.foo.bar.ck', 'foo.bar.ck'],
    ['www.ck', 'www.ck'], // exception: registrable under ck
    ['a.www.ck', 'www.ck'],
    ['x.y.公司.cn', 'y.公司.cn'],
    ['user.github.io', 'user.github.io'],
    ['com', 'com'], // a suffix itself, as log-go returns it
    ['example.invalid', undefined], // unknown TLD: not registrable
  ];
  for (const [name, want] of cases) assert.equal(psl.registeredDomain(name), want, name);
});

test('malformed suffix lists are rejected with the line number', () => {
  assert.throws(() => parsePublicSuffixList('com\n/ comment\n'), { message: 'public suffix list line 2: malformed comment' });
  assert.throws(() => parsePublicSuffixList('*foo\n'), { message: 'public suffix list line 1: invalid wildcard rule "*foo"' });
  assert.throws(() => parsePublicSuffixList('com\n!www.ck\n'), {
    message: 'public suffix list line 2: exception for non-existent wildcard *.ck',
  });
  assert.throws(() => parsePublicSuffixList('a..b\n'), /^Error: public suffix list line 1: invalid domain name "a\.\.b"/);
});
