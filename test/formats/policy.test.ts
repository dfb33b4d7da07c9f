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

// Key encodings. sigsum-go's policy parser (pkg/policy/config.go at the
// mirrored HEAD, crypto.PublicKeyFromHex) and the Debian sigsum-go 1.0.0
// sigsum-verify take raw hex only, in any case; OpenSSH and vkey forms are
// rejected there, so they are rejected here. The non-hex strings are what
// sigsum-key 1.0.0 printed for the fixture keys:
//   sigsum-key from-hex                                   (OpenSSH)
//   sigsum-key to-vkey -k log.pub                          (log vkey)
//   sigsum-key to-vkey -k w.pub -n example.org/w -t cosignature/v1
//   sigsum-key to-vkey -k w.pub -n example.org/w           (type ed25519)
const LOG_SSH = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbguFjkYqYJ5m/nE3DIFtiEb/ED1UmaIqf+w3/bxCSn sigsum key';
const WITNESS_SSH = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMhTrQ8M0rYZrqks7sT9VqJNZJnVhM55JX5Fz9gTm2Cn sigsum key';
const LOG_VKEY =
  'sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69+809da1a3+AWbguFjkYqYJ5m/nE3DIFtiEb/ED1UmaIqf+w3/bxCSn';
const WITNESS_VKEY_COSIGNATURE = 'example.org/w+ab81e6e5+BMhTrQ8M0rYZrqks7sT9VqJNZJnVhM55JX5Fz9gTm2Cn';
const WITNESS_VKEY_ED25519 = 'example.org/w+8982deca+AchTrQ8M0rYZrqks7sT9VqJNZJnVhM55JX5Fz9gTm2Cn';

/** Mixed case, as Go's hex decoder (and ours) allows: upper in the first half. */
const mixedCase = (hex: string) => hex.slice(0, 32).toUpperCase() + hex.slice(32);

describe('parsePolicy key encodings', () => {
  const accepted: Array<[string, (hex: string) => string]> = [
    ['lowercase hex', (h) => h],
    ['uppercase hex', (h) => h.toUpperCase()],
    ['mixed-case hex', mixedCase],
  ];
  for (const [what, form] of accepted) {
    it(`reads ${what} as the same log and witness keys`, () => {
      const p = parsePolicy(`log ${form(LOG_PUBLIC_KEY_HEX)}\nwitness W ${form(WITNESS_PUBLIC_KEY_HEX)}\nquorum W\n`);
      assert.equal(toHex(p.logs[0]!.publicKey), LOG_PUBLIC_KEY_HEX);
      assert.equal(toHex(p.logs[0]!.keyHash), LOG_KEY_HASH_HEX);
      assert.equal(toHex(p.witnesses[0]!.publicKey), WITNESS_PUBLIC_KEY_HEX);
      assert.equal(toHex(p.witnesses[0]!.keyHash), WITNESS_KEY_HASH_HEX);
    });
  }

  // A 64-character field fails as "not hex", any other length as "wrong length".
  const NOT_KEY = '(?:public key must be 64 hex characters|invalid public key: invalid hex character)';
  const OPENSSH = new RegExp(`${NOT_KEY} \\(an OpenSSH public key\\? convert it with \`sigsum-key to-hex\`\\)$`);
  const VKEY = new RegExp(`${NOT_KEY} \\(a vkey\\? convert it with \`sigsum-key from-vkey \\| sigsum-key to-hex\`\\)$`);
  const LENGTH = /public key must be 64 hex characters$/;
  const NOT_HEX = /invalid public key: invalid hex character$/;
  const blob = (ssh: string) => ssh.split(' ')[1]!;
  // [what, log field(s), witness field(s), expected message]
  const rejected: Array<[string, string, string, RegExp]> = [
    ['an OpenSSH line as sigsum-key writes it', LOG_SSH, WITNESS_SSH, OPENSSH],
    ['an OpenSSH line without comment', LOG_SSH.split(' ').slice(0, 2).join(' '), WITNESS_SSH.split(' ').slice(0, 2).join(' '), OPENSSH],
    ['a bare OpenSSH base64 blob', blob(LOG_SSH), blob(WITNESS_SSH), OPENSSH],
    ['an OpenSSH blob with bad base64', blob(LOG_SSH).replace('Gbgu', 'Gb*u'), blob(WITNESS_SSH).replace('MhTr', 'Mh*r'), OPENSSH],
    ['an OpenSSH blob cut short', blob(LOG_SSH).slice(0, -4), blob(WITNESS_SSH).slice(0, -4), OPENSSH],
    ['another OpenSSH key type', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7', 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7', OPENSSH],
    ['a log vkey', LOG_VKEY, LOG_VKEY, VKEY],
    ['a cosignature/v1 vkey', WITNESS_VKEY_COSIGNATURE, WITNESS_VKEY_COSIGNATURE, VKEY],
    ['an ed25519 vkey', WITNESS_VKEY_ED25519, WITNESS_VKEY_ED25519, VKEY],
    ['a vkey with a wrong key ID', LOG_VKEY.replace('+809da1a3+', '+00000000+'), WITNESS_VKEY_ED25519.replace('+8982deca+', '+00000000+'), VKEY],
    ['a vkey with another name', LOG_VKEY.replace('sigsum.org', 'example.com'), WITNESS_VKEY_COSIGNATURE.replace('example.org', 'x'), VKEY],
    ['raw base64 of the key', 'ZuC4WORipgnmb+cTcMgW2IRv8QPVSZoip/7Df9vEJKc=', 'yFOtDwzSthmuqSzuxP1Wok1kmdWEznklfkXP2BObYKc=', LENGTH],
    ['a 0x prefix', `0x${LOG_PUBLIC_KEY_HEX}`, `0x${WITNESS_PUBLIC_KEY_HEX}`, LENGTH],
    ['a key one digit short', LOG_PUBLIC_KEY_HEX.slice(1), WITNESS_PUBLIC_KEY_HEX.slice(1), LENGTH],
    ['a key one byte short', LOG_PUBLIC_KEY_HEX.slice(2), WITNESS_PUBLIC_KEY_HEX.slice(2), LENGTH],
    ['a key one byte long', `${LOG_PUBLIC_KEY_HEX}00`, `${WITNESS_PUBLIC_KEY_HEX}00`, LENGTH],
    ['trailing junk glued to the key', `${LOG_PUBLIC_KEY_HEX}#x`, `${WITNESS_PUBLIC_KEY_HEX},`, LENGTH],
    ['a non-hex digit', `${LOG_PUBLIC_KEY_HEX.slice(0, -1)}g`, `${WITNESS_PUBLIC_KEY_HEX.slice(0, -1)}G`, NOT_HEX],
    ['a non-ASCII digit', `${LOG_PUBLIC_KEY_HEX.slice(0, -1)}\u0661`, `${WITNESS_PUBLIC_KEY_HEX.slice(0, -1)}\uff10`, NOT_HEX],
  ];
  const rejectsWith = (text: string, want: RegExp) =>
    assert.throws(() => parsePolicy(text), (e: unknown) => e instanceof PolicyError && want.test(e.message), text);
  for (const [what, logField, witnessField, want] of rejected) {
    it(`rejects ${what}, naming the line`, () => {
      rejectsWith(`log ${logField}\nquorum none\n`, new RegExp(`^1: ${want.source}`));
      rejectsWith(`log ${LOG_PUBLIC_KEY_HEX}\nwitness W ${witnessField}\nquorum W\n`, new RegExp(`^2: ${want.source}`));
      // With a url after the key, as a log or witness with one would be written.
      rejectsWith(`# c\nlog ${logField} http://log.example/\nquorum none\n`, new RegExp(`^2: ${want.source}`));
    });
  }
});
