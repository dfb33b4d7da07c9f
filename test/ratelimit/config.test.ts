import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { loadRateLimitFile, parseRateLimitConfig, TEST_DOMAIN } from '../../src/ratelimit/index.js';

const HASH_A = 'aa'.repeat(32);
const HASH_B_UPPER = 'BB'.repeat(32);
const SUFFIXES = '// test list\ncom\norg\nco.uk\n';

function parse(text: string, allowTestDomain = false) {
  const read: string[] = [];
  const config = parseRateLimitConfig(text, {
    source: 'rl.cfg',
    allowTestDomain,
    readSuffixFile: (path) => {
      read.push(path);
      if (path !== 'psl.dat') throw new Error(`ENOENT: no such file ${path}`);
      return SUFFIXES;
    },
  });
  return { config, read };
}

test('good rate-limit files', async (t) => {
  const cases: Array<{
    name: string;
    text: string;
    keys?: Array<[string, number]>;
    domains?: Array<[string, number]>;
    publicLimit?: number;
    suffixReads?: string[];
  }> = [
    { name: 'empty file', text: '' },
    { name: 'comments and blank lines', text: '# only a comment\n\n   \t\n  # indented comment\n' },
    {
      name: 'all three kinds, comments after rules, CRLF',
      text: `key ${HASH_A} 10 # our own key\r\ndomain example.org 5\r\npublic psl.dat 288\r\n`,
      keys: [[HASH_A, 10]],
      domains: [['example.org', 5]],
      publicLimit: 288,
      suffixReads: ['psl.dat'],
    },
    {
      name: 'tabs and runs of spaces separate fields',
      text: `key\t${HASH_B_UPPER}   0\n`,
      keys: [[HASH_B_UPPER.toLowerCase(), 0]],
    },
    { name: 'domain is normalized', text: 'domain Foo.EXAMPLE.org 7\n', domains: [['foo.example.org', 7]] },
    { name: 'A-label domain is stored as U-label', text: 'domain xn--bcher-kva.example 3\n', domains: [['bücher.example', 3]] },
    { name: 'public with limit 0 disables public access and skips the file', text: 'public missing.dat 0\n', suffixReads: [] },
    { name: 'largest limit', text: `domain a.example ${2 ** 31 - 1}\n`, domains: [['a.example', 2 ** 31 - 1]] },
    { name: 'leading zeros in limit', text: 'domain a.example 007\n', domains: [['a.example', 7]] },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const { config, read } = parse(c.text);
      assert.deepEqual([...config.keys], c.keys ?? []);
      assert.deepEqual([...config.domains], [...(c.domains ?? []), [TEST_DOMAIN, 0]]);
      assert.equal(config.public?.limit, c.publicLimit);
      assert.deepEqual(read, c.suffixReads ?? []);
    });
  }
});

test('bad rate-limit files name the line and the problem', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['unknown keyword', '\n\nallow foo 1\n', 'rl.cfg line 3: unknown keyword "allow": expected key, domain or public'],
    ['too few fields', `key ${HASH_A}\n`, 'rl.cfg line 1: expected "<keyword> <value> <limit>", got 2 field(s): "key ' + HASH_A + '"'],
    ['too many fields', 'domain a.example 1 2\n', 'rl.cfg line 1: expected "<keyword> <value> <limit>", got 4 field(s): "domain a.example 1 2"'],
    ['negative limit', 'domain a.example -1\n', 'rl.cfg line 1: invalid limit "-1": expected an integer from 0 to 2147483647'],
    ['plus sign', 'domain a.example +1\n', 'rl.cfg line 1: invalid limit "+1": expected an integer from 0 to 2147483647'],
    ['limit too large', `domain a.example ${2 ** 31}\n`, 'rl.cfg line 1: invalid limit "2147483648": expected an integer from 0 to 2147483647'],
    ['non-numeric limit', 'domain a.example ten\n', 'rl.cfg line 1: invalid limit "ten": expected an integer from 0 to 2147483647'],
    ['key hash not hex', `key ${'zz'.repeat(32)} 1\n`, `rl.cfg line 1: invalid key hash "${'zz'.repeat(32)}": not hex`],
    ['key hash too short', 'key abcd 1\n', 'rl.cfg line 1: invalid key hash "abcd": expected 64 hex digits'],
    ['duplicate key, any case', `key ${HASH_A} 1\nkey ${HASH_A.toUpperCase()} 2\n`, `rl.cfg line 2: duplicate key ${HASH_A}`],
    ['duplicate domain after normalization', 'domain a.example 1\n# x\ndomain A.Example 2\n', 'rl.cfg line 3: duplicate domain a.example'],
    ['bad domain', 'domain a..example 1\n', 'rl.cfg line 1: invalid domain name "a..example": bad label ""'],
    ['domain with trailing dot', 'domain a.example. 1\n', 'rl.cfg line 1: invalid domain name "a.example.": bad label ""'],
    ['two public lines', 'public psl.dat 1\n\npublic psl.dat 2\n', 'rl.cfg line 3: only one "public" line is allowed (first on line 1)'],
    ['missing suffix file', 'public nope.dat 5\n', 'rl.cfg line 1: public suffix file nope.dat: ENOENT: no such file nope.dat'],
  ];
  for (const [name, text, message] of cases) {
    await t.test(name, () => {
      assert.throws(() => parse(text), (e: unknown) => {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
        assert.equal(e.message, message);
        return true;
      });
    });
  }
});

test('test.sigsum.org is banned unless allowed, overriding a domain line', () => {
  assert.equal(parse(`domain ${TEST_DOMAIN} 50\n`).config.domains.get(TEST_DOMAIN), 0);
  assert.equal(parse(`domain ${TEST_DOMAIN} 50\n`, true).config.domains.get(TEST_DOMAIN), 50);
  assert.equal(parse('', true).config.domains.has(TEST_DOMAIN), false);
});

test('loadRateLimitFile reads the suffix file relative to the config file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ratelimit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'psl.dat'), SUFFIXES);
  writeFileSync(join(dir, 'rl.cfg'), 'public psl.dat 3\n');
  const config = loadRateLimitFile(join(dir, 'rl.cfg'));
  assert.equal(config.public?.limit, 3);
  assert.equal(config.public?.suffixes.registeredDomain('a.b.example.co.uk'), 'example.co.uk');

  writeFileSync(join(dir, 'bad.cfg'), '\nbogus line here\n');
  assert.throws(() => loadRateLimitFile(join(dir, 'bad.cfg')), {
    name: 'ConfigError',
    message: `${join(dir, 'bad.cfg')} line 2: unknown keyword "bogus": expected key, domain or public`,
  });
  assert.throws(() => loadRateLimitFile(join(dir, 'absent.cfg')), /cannot read rate-limit file .*absent\.cfg/);
});
