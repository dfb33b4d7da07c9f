import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findLog, findWitness, parsePolicy, PolicyError, quorumSatisfied } from '../../src/formats/policy.js';
import { toHex } from '../../src/hex.js';
import { ConfigError } from '../../src/errors.js';
import { hash, LOG_KEY_HASH_HEX, LOG_PUBLIC_KEY_HEX, POLICY_TEXT, WITNESS_KEY_HASH_HEX, WITNESS_PUBLIC_KEY_HEX } from './fixtures.js';

// Six distinct witness keys: SHA-256 is not needed, any 32 bytes parse.
const key = (n: number) => n.toString(16).padStart(2, '0').repeat(32);
const kh = (n: number) => toHex(parsePolicy(`witness w ${key(n)}\nquorum none\n`).witnesses[0]!.keyHash);

// doc/policy.md example, with keys filled in.
const EXAMPLE = `log ${key(0xf0)}
witness X1 ${key(1)}
witness X2 ${key(2)}
witness X3 ${key(3)}
group X-witnesses 2 X1 X2 X3

witness Y1 ${key(4)}
witness Y2 ${key(5)}
witness Y3 ${key(6)}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`;

describe('parsePolicy', () => {
  it('reads the policy sigsum-verify used', () => {
    const p = parsePolicy(POLICY_TEXT);
    assert.equal(p.logs.length, 1);
    assert.equal(toHex(p.logs[0]!.publicKey), LOG_PUBLIC_KEY_HEX);
    assert.equal(toHex(p.logs[0]!.keyHash), LOG_KEY_HASH_HEX);
    assert.equal(p.logs[0]!.url, 'http://127.0.0.1:1/');
    assert.equal(p.witnesses.length, 1);
    assert.equal(p.witnesses[0]!.name, 'W1');
    assert.equal(toHex(p.witnesses[0]!.publicKey), WITNESS_PUBLIC_KEY_HEX);
    assert.equal(p.witnesses[0]!.url, undefined);
    assert.ok(findLog(p, hash(LOG_KEY_HASH_HEX)));
    assert.equal(findWitness(p, hash(WITNESS_KEY_HASH_HEX))?.name, 'W1');
    assert.equal(findWitness(p, hash(LOG_KEY_HASH_HEX)), undefined);
    assert.ok(quorumSatisfied(p, new Set([WITNESS_KEY_HASH_HEX])));
    assert.ok(!quorumSatisfied(p, new Set()));
  });

  it('evaluates the doc/policy.md two-level example', () => {
    const p = parsePolicy(EXAMPLE);
    const q = (...ws: number[]) => quorumSatisfied(p, new Set(ws.map(kh)));
    assert.ok(q(1, 2, 4));
    assert.ok(q(1, 3, 6));
    assert.ok(q(1, 2, 3, 4, 5, 6));
    assert.ok(!q(1, 4, 5, 6)); // one X is not enough
    assert.ok(!q(1, 2, 3)); // no Y
    assert.ok(!q());
    assert.ok(!q(0xf0, 1, 2)); // the log key is not a witness
  });

  it('accepts quorum none, comments, tabs, surrounding blanks, CRLF and a last line without newline', () => {
    const p = parsePolicy(`  # comment\n\t#x\n\n\tlog\t${key(9).toUpperCase()}  \r\n  quorum   none`);
    assert.equal(toHex(p.logs[0]!.publicKey), key(9));
    assert.ok(quorumSatisfied(p, new Set()));
  });

  it('accepts a quorum of a single witness, all/any/k and non-ASCII names', () => {
    const p = parsePolicy(`witness K ${key(1)}\nwitness \u212a ${key(2)}\ngroup g all K \u212a\nquorum g\n`);
    assert.ok(quorumSatisfied(p, new Set([kh(1), kh(2)])));
    assert.ok(!quorumSatisfied(p, new Set([kh(1)])));
    const single = parsePolicy(`witness K ${key(1)}\nquorum K\n`);
    assert.ok(quorumSatisfied(single, new Set([kh(1)])));
    assert.ok(!quorumSatisfied(single, new Set([kh(2)])));
  });

  const bad: Array<[string, string, RegExp]> = [
    ['no quorum', `log ${key(1)}\n`, /no quorum defined/],
    ['two quorums', `quorum none\nquorum none\n`, /^2: quorum can only be set once/],
    ['an unknown keyword', `logs ${key(1)}\nquorum none\n`, /^1: unknown keyword 'logs'/],
    ['a short log key', `log ${key(1).slice(2)}\nquorum none\n`, /^1: public key/],
    ['a non-hex log key', `log ${'zz'.repeat(32)}\nquorum none\n`, /^1: invalid public key/],
    ['a log line with 3 arguments', `log ${key(1)} http://a http://b\nquorum none\n`, /^1: log line/],
    ['a duplicate log', `log ${key(1)}\nlog ${key(1).toUpperCase()}\nquorum none\n`, /^2: duplicate log/],
    ['a witness without key', `witness W\nquorum none\n`, /^1: witness line/],
    ['a duplicate witness key', `witness A ${key(1)}\nwitness B ${key(1)}\nquorum none\n`, /^2: duplicate witness/],
    ['a duplicate name', `witness A ${key(1)}\nwitness A ${key(2)}\nquorum none\n`, /^2: duplicate name 'A'/],
    ['a witness named none', `witness none ${key(1)}\nquorum none\n`, /^1: duplicate name 'none'/],
    ['a group reusing a witness name', `witness A ${key(1)}\ngroup A any A\nquorum A\n`, /^2: duplicate name 'A'/],
    ['a forward reference', `group g any A\nwitness A ${key(1)}\nquorum g\n`, /^1: undefined name 'A'/],
    ['an undefined quorum', `quorum X\n`, /^1: undefined name 'X'/],
    ['a member used twice', `witness A ${key(1)}\ngroup g 1 A A\nquorum g\n`, /^2: 'A' is already a member of 'g'/],
    ['a member in two groups', `witness A ${key(1)}\ngroup g any A\ngroup h any A\nquorum g\n`, /^3: 'A' is already a member of 'g'/],
    ['none as a member', `witness A ${key(1)}\ngroup g any A none\nquorum g\n`, /^2: 'none' cannot be a group member/],
    ['threshold 0', `witness A ${key(1)}\ngroup g 0 A\nquorum g\n`, /^2: threshold 0 out of range/],
    ['threshold above n', `witness A ${key(1)}\ngroup g 2 A\nquorum g\n`, /^2: threshold 2 out of range/],
    ['a non-numeric threshold', `witness A ${key(1)}\ngroup g most A\nquorum g\n`, /^2: invalid threshold 'most'/],
    ['a group without members', `group g any\nquorum none\n`, /^1: group line/],
    ['a quorum with two names', `quorum none none\n`, /^1: quorum line/],
    ['a control character', `quorum none\x0b\n`, /^1: invalid control character/],
    ['DEL', `# \x7f\nquorum none\n`, /^1: invalid control character/],
  ];
  for (const [what, text, want] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parsePolicy(text), (e: unknown) => e instanceof PolicyError && e instanceof ConfigError && want.test(e.message));
    });
  }
});
