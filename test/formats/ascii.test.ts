import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AsciiError,
  formatInt,
  parseAscii,
  parseHexField,
  parseIntField,
  parseSafeIntField,
  splitValue,
  toSafeNumber,
  writeAscii,
  type AsciiField,
} from '../../src/formats/ascii.js';
import { BadRequestError } from '../../src/errors.js';

const H = 'ab'.repeat(32);
const FIELDS: readonly AsciiField[] = [{ name: 'size' }, { name: 'root_hash' }, { name: 'node_hash', repeat: true }];

describe('parseAscii', () => {
  it('returns values per key in input order', () => {
    const m = parseAscii(`size=3\nroot_hash=${H}\nnode_hash=aa\nnode_hash=bb\n`, FIELDS);
    assert.deepEqual([...m.entries()], [
      ['size', ['3']],
      ['root_hash', [H]],
      ['node_hash', ['aa', 'bb']],
    ]);
  });

  it('splits key and value at the first equal sign', () => {
    const m = parseAscii('a=b=c\n', [{ name: 'a' }]);
    assert.deepEqual(m.get('a'), ['b=c']);
  });

  it('allows zero lines for an optional repeated last key', () => {
    const fields = [{ name: 'size' }, { name: 'cosignature', repeat: true, optional: true }];
    assert.deepEqual(parseAscii('size=1\n', fields).get('cosignature'), []);
    assert.deepEqual(parseAscii('size=1\ncosignature=x\ncosignature=y\n', fields).get('cosignature'), ['x', 'y']);
  });

  it('rejects repeat/optional on a non-last field spec', () => {
    assert.throws(() => parseAscii('', [{ name: 'a', repeat: true }, { name: 'b' }]), /only the last field/);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['empty input', '', /missing key 'size'/],
    ['missing final newline', `size=3\nroot_hash=${H}\nnode_hash=aa`, /missing final newline after key 'node_hash'/],
    ['missing final newline, no equals', `size=3\nroot_hash=${H}\nnode_hash=aa\nxyz`, /missing final newline/],
    ['missing repeated key', `size=3\nroot_hash=${H}\n`, /missing key 'node_hash'/],
    ['missing first key', `root_hash=${H}\nnode_hash=aa\n`, /missing key 'size'/],
    ['missing middle key', 'size=3\nnode_hash=aa\n', /missing key 'root_hash'/],
    ['wrong order', `root_hash=${H}\nsize=3\nnode_hash=aa\n`, /missing key 'size' before 'root_hash'/],
    ['key back after later key', `size=3\nroot_hash=${H}\nnode_hash=aa\nsize=4\n`, /duplicate key 'size'/],
    ['duplicate key', `size=3\nsize=3\nroot_hash=${H}\nnode_hash=aa\n`, /duplicate key 'size'/],
    ['extra key', `size=3\nroot_hash=${H}\nnode_hash=aa\nextra=1\n`, /unexpected key 'extra'/],
    ['a long unknown key, shown shortened', `${'k'.repeat(1000)}=1\n`, /unexpected key 'k{40}\.\.\.'$/],
    ['an unprintable unknown key, shown escaped', `s\u0000ize=1\n`, /unexpected key 's\?ize'$/],
    ['key differing in case', `Size=3\nroot_hash=${H}\nnode_hash=aa\n`, /unexpected key 'Size'/],
    ['empty value', `size=\nroot_hash=${H}\nnode_hash=aa\n`, /empty value for key 'size'/],
    ['no equals sign', `size 3\nroot_hash=${H}\nnode_hash=aa\n`, /line 1: no '='/],
    ['empty line', `size=3\n\nroot_hash=${H}\nnode_hash=aa\n`, /line 2: empty line/],
    ['trailing empty line', `size=3\nroot_hash=${H}\nnode_hash=aa\n\n`, /line 4: empty line/],
    ['CRLF line endings', `size=3\r\nroot_hash=${H}\r\nnode_hash=aa\r\n`, /invalid character in value of key 'size'/],
    ['tab in value', `size=3\t\nroot_hash=${H}\nnode_hash=aa\n`, /invalid character in value of key 'size'/],
    ['non-ASCII value', `size=3\nroot_hash=${H}\u00e9\nnode_hash=aa\n`, /invalid character in value of key 'root_hash'/],
  ];
  for (const [what, text, want] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => parseAscii(text, FIELDS),
        (e: unknown) => e instanceof AsciiError && e instanceof BadRequestError && e.status === 400 && want.test(e.message),
      );
    });
  }
});

describe('writeAscii', () => {
  it('writes key=value lines in order', () => {
    assert.equal(writeAscii([['size', '3'], ['node_hash', 'aa'], ['node_hash', 'bb']]), 'size=3\nnode_hash=aa\nnode_hash=bb\n');
  });
  it('writes nothing for no pairs', () => {
    assert.equal(writeAscii([]), '');
  });
  for (const [what, pair] of [
    ['newline in value', ['a', 'b\nc']],
    ['empty value', ['a', '']],
    ['equals in key', ['a=b', 'c']],
    ['empty key', ['', 'c']],
  ] as const) {
    it(`refuses ${what}`, () => assert.throws(() => writeAscii([pair])));
  }
});

describe('parseIntField', () => {
  it('parses the full range', () => {
    assert.equal(parseIntField('n', '0'), 0n);
    assert.equal(parseIntField('n', '1234567890'), 1234567890n);
    assert.equal(parseIntField('n', '9223372036854775807'), 9223372036854775807n);
  });
  const bad: Array<[string, string]> = [
    ['non-numeric', 'abc'],
    ['hex', '0x10'],
    ['negative', '-1'],
    ['plus sign', '+1'],
    ['leading zero', '01'],
    ['double zero', '00'],
    ['2^63', '9223372036854775808'],
    ['2^64', '18446744073709551616'],
    ['space', ' 1'],
    ['decimal point', '1.0'],
    ['exponent', '1e3'],
    ['empty', ''],
  ];
  for (const [what, value] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseIntField('leaf_index', value), (e: unknown) => e instanceof AsciiError && /'leaf_index'/.test(e.message));
    });
  }
});

describe('safe numbers', () => {
  it('accepts up to 2^53-1', () => {
    assert.equal(toSafeNumber('size', 9007199254740991n), 9007199254740991);
    assert.equal(parseSafeIntField('size', '42'), 42);
  });
  it('rejects above 2^53-1 with a 400', () => {
    assert.throws(() => toSafeNumber('size', 9007199254740992n), (e: unknown) => e instanceof BadRequestError && /'size'/.test(e.message));
    assert.throws(() => parseSafeIntField('size', '9223372036854775807'), AsciiError);
  });
  it('formats integers without leading zeros or signs', () => {
    assert.equal(formatInt(0), '0');
    assert.equal(formatInt(1700000000), '1700000000');
    assert.equal(formatInt(9223372036854775807n), '9223372036854775807');
    assert.throws(() => formatInt(-1));
    assert.throws(() => formatInt(1.5));
    assert.throws(() => formatInt(2 ** 53));
    assert.throws(() => formatInt(1n << 63n));
  });
});

describe('parseHexField', () => {
  it('decodes either case to the same bytes', () => {
    assert.deepEqual(parseHexField('h', 'ABcd', 2), new Uint8Array([0xab, 0xcd]));
    assert.deepEqual(parseHexField('h', 'abcd', 2), new Uint8Array([0xab, 0xcd]));
  });
  const bad: Array<[string, string]> = [
    ['odd length', 'abc'],
    ['too short', 'ab'],
    ['too long', 'abcdef'],
    ['non-hex', 'abzz'],
    ['empty', ''],
  ];
  for (const [what, value] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseHexField('root_hash', value, 2), (e: unknown) => e instanceof AsciiError && /'root_hash'/.test(e.message));
    });
  }
});

describe('splitValue', () => {
  it('splits on single spaces', () => {
    assert.deepEqual(splitValue('leaf', 'a b c', 3), ['a', 'b', 'c']);
  });
  for (const value of ['a b', 'a b c d', 'a  b c', ' a b c', 'a b c ']) {
    it(`rejects '${value}'`, () => assert.throws(() => splitValue('leaf', value, 3), /'leaf'/));
  }
});
