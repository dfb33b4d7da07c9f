import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { generateSeed, publicKeyFromSeed } from '../../src/crypto/index.js';
import {
  formatOpenSshPrivateKey,
  formatOpenSshPublicKey,
  parsePrivateKey,
  parsePublicKey,
  readPrivateKeyFile,
  readPublicKeyFile,
  writeKeyPair,
} from '../../src/crypto/keyfile.js';
import { ConfigError } from '../../src/errors.js';
import { toHex } from '../../src/hex.js';
import { asPrivateKeySeed, asPublicKey } from '../../src/types.js';

// Throw-away keys made for these tests: one by `ssh-keygen -t ed25519 -N '' -C me@host`
// (PEM wrapped at 70 columns, comment inside), one by `sigsum-key generate` (64 columns,
// empty comment). The expected hex was taken from the decoded files.
const SSH_KEYGEN_PRIVATE = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACArnR0vMbKOrK+auHEbr+49LcjfgUwd/gRezvpv780cmAAAAJAMx9enDMfX
pwAAAAtzc2gtZWQyNTUxOQAAACArnR0vMbKOrK+auHEbr+49LcjfgUwd/gRezvpv780cmA
AAAED+hGhPwaDOKDIhKktCM6GKF2wPA8VSlWvqyh49NAqJmyudHS8xso6sr5q4cRuv7j0t
yN+BTB3+BF7O+m/vzRyYAAAAB21lQGhvc3QBAgMEBQY=
-----END OPENSSH PRIVATE KEY-----
`;
const SSH_KEYGEN_PUBLIC = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICudHS8xso6sr5q4cRuv7j0tyN+BTB3+BF7O+m/vzRyY me@host\n';
const SSH_KEYGEN_SEED = 'fe84684fc1a0ce2832212a4b4233a18a176c0f03c552956beaca1e3d340a899b';
const SSH_KEYGEN_PUB = '2b9d1d2f31b28eacaf9ab8711bafee3d2dc8df814c1dfe045ecefa6fefcd1c98';

const SIGSUM_KEY_PRIVATE = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz
c2gtZWQyNTUxOQAAACB1sbAe/X4FHbVPMCW3MdfAFgdOktv9rA8YFI0+3AsG3wAA
AIhX1V8iV9VfIgAAAAtzc2gtZWQyNTUxOQAAACB1sbAe/X4FHbVPMCW3MdfAFgdO
ktv9rA8YFI0+3AsG3wAAAEBWTvkUgfklFnfimsUi+KqpmweENazbYze2k8kxtCsX
unWxsB79fgUdtU8wJbcx18AWB06S2/2sDxgUjT7cCwbfAAAAAAECAwQF
-----END OPENSSH PRIVATE KEY-----
`;
const SIGSUM_KEY_PUBLIC = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHWxsB79fgUdtU8wJbcx18AWB06S2/2sDxgUjT7cCwbf sigsum key\n';
const SIGSUM_KEY_SEED = '564ef91481f9251677e29ac522f8aaa99b078435acdb6337b693c931b42b17ba';
const SIGSUM_KEY_PUB = '75b1b01efd7e051db54f3025b731d7c016074e92dbfdac0f18148d3edc0b06df';

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyfile-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function seedFromHex(hex: string) {
  return asPrivateKeySeed(new Uint8Array(Buffer.from(hex, 'hex')));
}

// Decoded PEM body of a private key file, and its inverse, for constructing broken keys.
function decode(pem: string): Buffer {
  return Buffer.from(pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join(''), 'base64');
}
function encode(body: Buffer): string {
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
function wire(...parts: (string | Buffer | number)[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (typeof p === 'number') {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(p);
        return b;
      }
      const bytes = typeof p === 'string' ? Buffer.from(p) : p;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      return Buffer.concat([len, bytes]);
    }),
  );
}

// Offsets in the decoded body of a one-key Ed25519 file (magic 15, cipher/kdf/kdfoptions
// 8+8+4, count 4, public blob 4+51, section length 4).
const CHECKINT1 = 98;
const SEED_AT = 161;
const SECRET_PUB_AT = 193;

function expectConfigError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('reads a private key written by ssh-keygen', () => {
  const seed = parsePrivateKey(SSH_KEYGEN_PRIVATE);
  assert.equal(toHex(seed), SSH_KEYGEN_SEED);
  assert.equal(toHex(publicKeyFromSeed(seed)), SSH_KEYGEN_PUB);
  assert.equal(toHex(parsePublicKey(SSH_KEYGEN_PUBLIC)), SSH_KEYGEN_PUB);
});

test('reads a private key written by sigsum-key (64-column PEM, empty comment)', () => {
  assert.equal(toHex(parsePrivateKey(SIGSUM_KEY_PRIVATE)), SIGSUM_KEY_SEED);
  assert.equal(toHex(parsePublicKey(SIGSUM_KEY_PUBLIC)), SIGSUM_KEY_PUB);
});

test('formatOpenSshPrivateKey matches the layout ssh-keygen writes', () => {
  const seed = seedFromHex(SSH_KEYGEN_SEED);
  const text = formatOpenSshPrivateKey(seed, 'me@host');
  const lines = text.split('\n');
  assert.equal(lines[0], '-----BEGIN OPENSSH PRIVATE KEY-----');
  assert.equal(lines.at(-2), '-----END OPENSSH PRIVATE KEY-----');
  assert.equal(lines.at(-1), '', 'ends with a newline');
  assert.ok(lines.slice(1, -3).every((l) => l.length === 70), 'full body lines are 70 columns');

  // Same bytes as ssh-keygen's file except for the random check-ints.
  const ours = decode(text);
  const theirs = decode(SSH_KEYGEN_PRIVATE);
  assert.equal(ours.length, theirs.length);
  assert.deepEqual(ours.subarray(CHECKINT1, CHECKINT1 + 4), ours.subarray(CHECKINT1 + 4, CHECKINT1 + 8));
  ours.copy(theirs, CHECKINT1, CHECKINT1, CHECKINT1 + 8);
  assert.deepEqual(ours, theirs);
  assert.equal(toHex(parsePrivateKey(text)), SSH_KEYGEN_SEED);
});

test('padding brings the private section to a multiple of 8 for every comment length', () => {
  const seed = generateSeed();
  for (let n = 0; n < 10; n++) {
    const text = formatOpenSshPrivateKey(seed, 'c'.repeat(n));
    const body = decode(text);
    const sectionLength = body.readUInt32BE(CHECKINT1 - 4);
    assert.equal(sectionLength % 8, 0);
    assert.equal(CHECKINT1 + sectionLength, body.length);
    assert.deepEqual(parsePrivateKey(text), seed);
  }
});

test('formatOpenSshPublicKey', () => {
  const pk = asPublicKey(new Uint8Array(Buffer.from(SIGSUM_KEY_PUB, 'hex')));
  assert.equal(formatOpenSshPublicKey(pk, 'sigsum key'), SIGSUM_KEY_PUBLIC);
  assert.equal(formatOpenSshPublicKey(pk), SIGSUM_KEY_PUBLIC.replace(' sigsum key', ''));
  assert.throws(() => formatOpenSshPublicKey(pk, 'a\nb'), RangeError);
});

test('parsePublicKey accepts OpenSSH lines and hex in their usual variations', () => {
  const want = SIGSUM_KEY_PUB;
  const b64 = SIGSUM_KEY_PUBLIC.split(' ')[1]!;
  const inputs = [
    SIGSUM_KEY_PUBLIC,
    `ssh-ed25519 ${b64}`,
    `ssh-ed25519\t${b64}\tcomment with spaces\r\n`,
    `# a comment line\n\nssh-ed25519 ${b64} x\n`,
    `sigsum-policy="sigsum-test-2025-3" ssh-ed25519 ${b64} x`,
    `${want}\n`,
    want.toUpperCase(),
    `  ${want}  `,
  ];
  for (const input of inputs) assert.equal(toHex(parsePublicKey(input)), want, JSON.stringify(input));
});

test('parsePublicKey rejects malformed input with a clear message', () => {
  const b64 = SIGSUM_KEY_PUBLIC.split(' ')[1]!;
  const rsaBlob = wire('ssh-rsa', Buffer.alloc(3), Buffer.alloc(64)).toString('base64');
  const shortBlob = wire('ssh-ed25519', Buffer.alloc(31)).toString('base64');
  const longBlob = Buffer.concat([Buffer.from(b64, 'base64'), Buffer.from([0])]).toString('base64');
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['garbage', /expected "ssh-ed25519 <base64> \[comment\]" or 64 hex digits/],
    [SIGSUM_KEY_PUB.slice(2), /64 hex digits, got 62/],
    [`ssh-rsa ${rsaBlob} x`, /expected .*ssh-rsa/],
    [`ssh-ed25519 ${rsaBlob} x`, /unsupported key type "ssh-rsa"/],
    ['ssh-ed25519', /missing base64/],
    ['ssh-ed25519 AAAA!!!', /invalid base64/],
    [`ssh-ed25519 ${shortBlob}`, /32 bytes, got 31/],
    [`ssh-ed25519 ${longBlob}`, /trailing data/],
    [`${SIGSUM_KEY_PUBLIC}${SSH_KEYGEN_PUBLIC}`, /exactly one public key, found 2/],
    [SIGSUM_KEY_PRIVATE, /PEM file/],
  ];
  for (const [input, pattern] of cases) {
    expectConfigError(() => parsePublicKey(input, 'the-source'), /^the-source: /, pattern);
  }
});

test('writeKeyPair writes both files, readable back, with the right modes', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'submit-key');
  const seed = generateSeed();
  const previousUmask = process.umask(0o077); // writeKeyPair must not depend on the umask
  try {
    writeKeyPair(file, seed);
  } finally {
    process.umask(previousUmask);
  }
  assert.deepEqual(readPrivateKeyFile(file), seed);
  assert.deepEqual(readPublicKeyFile(`${file}.pub`), publicKeyFromSeed(seed));
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(`${file}.pub`).mode & 0o777, 0o644);
  assert.equal(fs.readFileSync(`${file}.pub`, 'utf8'), formatOpenSshPublicKey(publicKeyFromSeed(seed), 'sigsum key'));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['submit-key', 'submit-key.pub'], 'no temp files left');
});

test('writeKeyPair refuses to overwrite and leaves existing files alone', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'k');
  const first = generateSeed();
  writeKeyPair(file, first);
  const before = fs.readFileSync(file, 'utf8');
  expectConfigError(() => writeKeyPair(file, generateSeed()), /refusing to overwrite existing file/, /k\b/);
  assert.equal(fs.readFileSync(file, 'utf8'), before);

  // Only the .pub exists: the private key must not be left behind either.
  const other = path.join(dir, 'other');
  fs.writeFileSync(`${other}.pub`, 'precious');
  expectConfigError(() => writeKeyPair(other, generateSeed()), /refusing to overwrite existing file .*other\.pub/);
  assert.equal(fs.existsSync(other), false);
  assert.equal(fs.readFileSync(`${other}.pub`, 'utf8'), 'precious');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['k', 'k.pub', 'other.pub']);
});

test('writeKeyPair into a missing directory is a ConfigError naming the file', (t) => {
  const file = path.join(tempDir(t), 'no-such-dir', 'k');
  expectConfigError(() => writeKeyPair(file, generateSeed()), /cannot write key file .*no-such-dir\/k/);
});

test('readPrivateKeyFile rejects malformed keys, naming the file', (t) => {
  const dir = tempDir(t);
  const good = decode(SSH_KEYGEN_PRIVATE);
  const tweak = (at: number, value: number): string => {
    const b = Buffer.from(good);
    b[at] = value;
    return encode(b);
  };
  // A well-formed header for cipher aes256-ctr / kdf bcrypt, as ssh-keygen -N writes.
  const encrypted = encode(
    Buffer.concat([
      Buffer.from('openssh-key-v1\0'),
      wire('aes256-ctr', 'bcrypt', wire(Buffer.alloc(16, 7), 16), 1),
      wire(good.subarray(39 + 4, 39 + 4 + 51)),
      wire(Buffer.alloc(144, 0xaa)),
    ]),
  );
  const otherSeed = formatOpenSshPrivateKey(generateSeed());
  const mismatched = Buffer.from(good);
  decode(otherSeed).copy(mismatched, SEED_AT, SEED_AT, SEED_AT + 32);
  const rsa = encode(
    Buffer.concat([Buffer.from('openssh-key-v1\0'), wire('none', 'none', '', 1, wire('ssh-rsa', Buffer.alloc(3)), Buffer.alloc(8))]),
  );

  const cases: [string, string, RegExp][] = [
    ['empty', '', /empty/],
    ['garbage', 'hello world\n', /not an OpenSSH private key/],
    ['public', SSH_KEYGEN_PUBLIC, /this is a public key/],
    ['pkcs8', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', /found a "PRIVATE KEY" PEM block/],
    ['no-end', SSH_KEYGEN_PRIVATE.replace('-----END OPENSSH PRIVATE KEY-----\n', ''), /missing "-----END/],
    ['bad-base64', SSH_KEYGEN_PRIVATE.replace('QyNTUxOQ', 'Qy*TUxOQ'), /invalid base64/],
    ['truncated', encode(good.subarray(0, 150)), /truncated/],
    ['bad-magic', tweak(0, 0x4f), /bad magic/],
    ['encrypted', encrypted, /encrypted private keys are not supported; .*aes256-ctr/],
    ['rsa', rsa, /unsupported key type "ssh-rsa"/],
    ['checkint', tweak(CHECKINT1, good[CHECKINT1]! ^ 1), /check-ints differ/],
    ['secret-pub', tweak(SECRET_PUB_AT, good[SECRET_PUB_AT]! ^ 1), /does not end with the public key/],
    ['mismatch', encode(mismatched), /does not match the public key/],
    ['padding', tweak(good.length - 1, 9), /invalid padding/],
    ['trailing', SSH_KEYGEN_PRIVATE + 'more\n', /text after/],
  ];
  for (const [name, content, pattern] of cases) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    expectConfigError(() => readPrivateKeyFile(file), new RegExp(`^private key file ${file}: `), pattern);
  }
  expectConfigError(() => readPrivateKeyFile(path.join(dir, 'absent')), /absent: no such file/);
});

test('readPublicKeyFile names the file in errors', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'pub');
  fs.writeFileSync(file, 'ssh-ed25519 nope!');
  expectConfigError(() => readPublicKeyFile(file), new RegExp(`^public key file ${file}: invalid base64`));
  expectConfigError(() => readPublicKeyFile(path.join(dir, 'absent')), /public key file .*absent: no such file/);
});

test('a private key file readable or writable by group or others is refused, as ssh does, naming the file and chmod 600', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'k');
  const seed = generateSeed();
  writeKeyPair(file, seed);
  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o620, 0o602]) {
    fs.chmodSync(file, mode);
    expectConfigError(
      () => readPrivateKeyFile(file),
      new RegExp(`^private key file ${file}: permissions ${mode.toString(8).padStart(4, '0')} are too open`),
      new RegExp(`chmod 600 ${file}$`),
    );
  }
  for (const mode of [0o600, 0o400]) {
    fs.chmodSync(file, mode);
    assert.deepEqual(readPrivateKeyFile(file), seed, `mode ${mode.toString(8)} is accepted`);
  }
  // The public key file may be world-readable.
  fs.chmodSync(`${file}.pub`, 0o644);
  assert.deepEqual(readPublicKeyFile(`${file}.pub`), publicKeyFromSeed(seed));
});
