// Ed25519 key files in the formats the Sigsum tools use: OpenSSH private keys
// (openssh-key-v1, PROTOCOL.key), OpenSSH public key lines, and raw hex public
// keys (policy files, `sigsum-key to-hex`). Only unencrypted Ed25519 keys are
// supported, like sigsum-go itself.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { bytesEqual, fromBase64, toBase64 } from '../hex.js';
import { asPrivateKeySeed, asPublicKey, type PrivateKeySeed, type PublicKey } from '../types.js';
import { publicKeyFromSeed } from './index.js';
import { ED25519_KEY_TYPE as KEY_TYPE, ed25519PublicKeyBlob, sshString, sshUint32, SshWireReader } from './ssh-wire.js';

const PEM_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const PEM_END = '-----END OPENSSH PRIVATE KEY-----';
const AUTH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
// The unencrypted private section is padded to the "none" cipher's block size.
const BLOCK_SIZE = 8;
// ssh-keygen wraps the PEM body at 70 columns (sigsum-key at 64; both read either).
const PEM_LINE_WIDTH = 70;
// Key files are a few hundred bytes; refuse to slurp something that clearly is not one.
const MAX_KEY_FILE_SIZE = 64 * 1024;
const DEFAULT_COMMENT = 'sigsum key';
const HEX_KEY_RE = /^[0-9a-fA-F]{64}$/;

/** Thrown inside the parsers and rewrapped as a ConfigError naming the source. */
class FormatError extends Error {}

function wireReader(buf: Buffer): SshWireReader {
  return new SshWireReader(buf, (what) => new FormatError(`truncated (${what})`));
}

function parsePublicKeyBlob(blob: Buffer): PublicKey {
  const r = wireReader(blob);
  const type = r.text('key type');
  if (type !== KEY_TYPE) {
    throw new FormatError(`unsupported key type ${JSON.stringify(type)}; only ${KEY_TYPE} keys are supported`);
  }
  const key = r.string('public key');
  if (key.length !== 32) throw new FormatError(`Ed25519 public key must be 32 bytes, got ${key.length}`);
  if (r.remaining !== 0) throw new FormatError('trailing data after the public key');
  return asPublicKey(new Uint8Array(key));
}

function checkComment(comment: string): void {
  if (/[\r\n]/.test(comment)) throw new RangeError('key comment must not contain line breaks');
}

// ---------------------------------------------------------------- public keys

/**
 * Formats an OpenSSH public key line, newline-terminated, as in a `.pub` file:
 * `ssh-ed25519 AAAA... comment`. No comment (the default) gives just two fields.
 */
export function formatOpenSshPublicKey(publicKey: PublicKey, comment = ''): string {
  checkComment(comment);
  const line = `${KEY_TYPE} ${toBase64(ed25519PublicKeyBlob(publicKey))}`;
  return comment === '' ? `${line}\n` : `${line} ${comment}\n`;
}

function parsePublicKeyText(text: string): PublicKey {
  // Like OpenSSH's authorized_keys reader: blank lines and '#' lines are ignored.
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new FormatError('no public key found (the input is empty)');
  const line = lines[0]!;
  if (line.startsWith('-----BEGIN')) {
    throw new FormatError('this is a PEM file (a private key?), not a public key; use the .pub file or hex');
  }
  if (lines.length > 1) throw new FormatError(`expected exactly one public key, found ${lines.length} lines`);
  if (HEX_KEY_RE.test(line)) return asPublicKey(new Uint8Array(Buffer.from(line, 'hex')));

  let fields = line.split(/[ \t]+/);
  // An authorized_keys style options field (sigsum-go knows sigsum-policy="...") may precede the type.
  if (fields[0] !== KEY_TYPE && fields[1] === KEY_TYPE) fields = fields.slice(1);
  const [type, b64] = fields;
  if (type !== KEY_TYPE) {
    if (/^[0-9a-fA-F]+$/.test(line)) {
      throw new FormatError(`a hex public key must be 64 hex digits, got ${line.length}`);
    }
    throw new FormatError(
      `expected "${KEY_TYPE} <base64> [comment]" or 64 hex digits; got key type ${JSON.stringify(type)}`,
    );
  }
  if (b64 === undefined) throw new FormatError(`missing base64 key data after "${KEY_TYPE}"`);
  let blob: Uint8Array;
  try {
    blob = fromBase64(b64);
  } catch {
    throw new FormatError('invalid base64 in the key data');
  }
  return parsePublicKeyBlob(Buffer.from(blob));
}

/**
 * Parses a public key given as an OpenSSH line (`ssh-ed25519 AAAA... [comment]`)
 * or as 64 hex digits. `source` names the input in error messages.
 * @throws ConfigError on anything else.
 */
export function parsePublicKey(text: string, source = 'public key'): PublicKey {
  try {
    return parsePublicKeyText(text);
  } catch (err) {
    throw wrap(err, source);
  }
}

/** Reads a public key file holding one OpenSSH public key line or 64 hex digits. */
export function readPublicKeyFile(file: string): PublicKey {
  const source = `public key file ${file}`;
  return parsePublicKey(readSmallFile(file, source), source);
}

// --------------------------------------------------------------- private keys

/**
 * Formats an unencrypted OpenSSH private key file (openssh-key-v1, cipher none),
 * the way `ssh-keygen -t ed25519 -N ''` does: random check-ints, the comment
 * inside the private section, padding 1, 2, 3, ... to 8 bytes, PEM at 70 columns.
 */
export function formatOpenSshPrivateKey(seed: PrivateKeySeed, comment = ''): string {
  checkComment(comment);
  const publicKey = publicKeyFromSeed(seed);
  const pubBlob = ed25519PublicKeyBlob(publicKey);
  const checkInt = randomBytes(4);
  const unpadded = Buffer.concat([
    checkInt,
    checkInt,
    sshString(KEY_TYPE),
    sshString(publicKey),
    // OpenSSH stores the Ed25519 "secret key" as seed || public key.
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment),
  ]);
  const padLength = (BLOCK_SIZE - (unpadded.length % BLOCK_SIZE)) % BLOCK_SIZE;
  const padding = Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1));
  const body = Buffer.concat([
    AUTH_MAGIC,
    sshString('none'), // cipher
    sshString('none'), // kdf
    sshString(''), // kdf options
    sshUint32(1), // number of keys
    sshString(pubBlob),
    sshString(Buffer.concat([unpadded, padding])),
  ]);
  const b64 = body.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += PEM_LINE_WIDTH) lines.push(b64.slice(i, i + PEM_LINE_WIDTH));
  return `${PEM_BEGIN}\n${lines.join('\n')}\n${PEM_END}\n`;
}

function pemBody(text: string): Buffer {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const begin = lines.findIndex((l) => l !== '');
  if (begin < 0) throw new FormatError('the file is empty');
  const first = lines[begin]!;
  if (first !== PEM_BEGIN) {
    if (first.startsWith(`${KEY_TYPE} `) || HEX_KEY_RE.test(first)) {
      throw new FormatError('this is a public key, not a private key (use the file without .pub)');
    }
    const tag = /^-----BEGIN (.*)-----$/.exec(first);
    if (tag) {
      throw new FormatError(
        `found a "${tag[1]}" PEM block; an OpenSSH private key ("${PEM_BEGIN}") is required ` +
          `(create one with sigsum-key generate or ssh-keygen -t ed25519)`,
      );
    }
    throw new FormatError(`not an OpenSSH private key (the first line is not "${PEM_BEGIN}")`);
  }
  const end = lines.indexOf(PEM_END, begin + 1);
  if (end < 0) throw new FormatError(`missing "${PEM_END}" line`);
  if (lines.slice(end + 1).some((l) => l !== '')) throw new FormatError(`text after "${PEM_END}"`);
  try {
    return Buffer.from(fromBase64(lines.slice(begin + 1, end).join('')));
  } catch {
    throw new FormatError('invalid base64 between the PEM lines');
  }
}

function parsePrivateKeyText(text: string): PrivateKeySeed {
  const r = wireReader(pemBody(text));
  if (r.remaining < AUTH_MAGIC.length || !r.bytes(AUTH_MAGIC.length, 'magic').equals(AUTH_MAGIC)) {
    throw new FormatError('not an openssh-key-v1 private key (bad magic)');
  }
  const cipher = r.text('cipher name');
  const kdf = r.text('kdf name');
  const kdfOptions = r.string('kdf options');
  if (cipher !== 'none') {
    throw new FormatError(
      `encrypted private keys are not supported; the key is encrypted with ${cipher}. ` +
        `Keep the key unencrypted and protect it with file permissions, ` +
        `or remove the passphrase with: ssh-keygen -p -N '' -f FILE`,
    );
  }
  if (kdf !== 'none' || kdfOptions.length !== 0) {
    throw new FormatError(`unexpected kdf ${JSON.stringify(kdf)} for an unencrypted key`);
  }
  const count = r.uint32('number of keys');
  if (count !== 1) throw new FormatError(`the file holds ${count} keys; exactly one is supported`);
  const publicKey = parsePublicKeyBlob(r.string('public key'));
  const section = r.string('private section');
  if (r.remaining !== 0) throw new FormatError('trailing data after the private section');
  if (section.length % BLOCK_SIZE !== 0) {
    throw new FormatError(`private section length ${section.length} is not a multiple of ${BLOCK_SIZE}`);
  }

  const p = wireReader(section);
  if (p.uint32('check-int') !== p.uint32('check-int')) {
    throw new FormatError('check-ints differ (corrupt key)');
  }
  const type = p.text('key type');
  if (type !== KEY_TYPE) {
    throw new FormatError(`unsupported private key type ${JSON.stringify(type)}; only ${KEY_TYPE} keys are supported`);
  }
  const innerPublic = p.string('public key');
  const secret = p.string('secret key');
  p.string('comment');
  const padding = p.rest();
  if (!bytesEqual(innerPublic, publicKey)) {
    throw new FormatError('the public key in the private section differs from the one in the header');
  }
  if (secret.length !== 64) throw new FormatError(`Ed25519 secret key must be 64 bytes, got ${secret.length}`);
  if (!bytesEqual(secret.subarray(32), publicKey)) {
    throw new FormatError('the secret key does not end with the public key (corrupt key)');
  }
  if (padding.length >= BLOCK_SIZE || padding.some((b, i) => b !== i + 1)) {
    throw new FormatError('invalid padding (corrupt key)');
  }
  const seed = asPrivateKeySeed(new Uint8Array(secret.subarray(0, 32)));
  if (!bytesEqual(publicKeyFromSeed(seed), publicKey)) {
    throw new FormatError('the private key does not match the public key stored with it');
  }
  return seed;
}

/**
 * Parses an unencrypted OpenSSH Ed25519 private key and checks that the public
 * key stored with it belongs to the seed. `source` names the input in errors.
 * @throws ConfigError for encrypted, non-Ed25519 or malformed keys.
 */
export function parsePrivateKey(text: string, source = 'private key'): PrivateKeySeed {
  try {
    return parsePrivateKeyText(text);
  } catch (err) {
    throw wrap(err, source);
  }
}

export function readPrivateKeyFile(file: string): PrivateKeySeed {
  const source = `private key file ${file}`;
  checkPrivateKeyMode(file, source);
  return parsePrivateKey(readSmallFile(file, source), source);
}

/**
 * ssh's rule (sshkey_perm_ok): a private key file owned by the user reading
 * it must not be readable or writable by group or others. A file owned by
 * someone else (root-owned, group-readable for a service account) is the
 * owner's choice and is accepted, as ssh does.
 */
function checkPrivateKeyMode(file: string, source: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return; // readSmallFile names the problem (no such file, no permission)
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) return;
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `${source}: permissions ${mode.toString(8).padStart(4, '0')} are too open: a private key must not be accessible by group or others; ` +
        `set mode 0600 with: chmod 600 ${file}`,
    );
  }
}

/** True when the text is a PEM block (a private key), false for anything else (a public key line or hex). */
export function looksLikePem(text: string): boolean {
  return text.trimStart().startsWith('-----BEGIN');
}

/** Reads a key file's text (at most a few KiB), for deciding what kind of key it holds. */
export function readKeyFileText(file: string): string {
  return readSmallFile(file, `key file ${file}`);
}

// -------------------------------------------------------------------- writing

/**
 * Writes a new key pair: `file` (OpenSSH private key, mode 0600) and
 * `file.pub` (public key line, mode 0644), each complete or not at all.
 * Refuses to overwrite either file; if the second cannot be written the
 * first is removed again, so a failed call leaves nothing behind.
 */
export function writeKeyPair(file: string, seed: PrivateKeySeed, comment = DEFAULT_COMMENT): void {
  const pubFile = `${file}.pub`;
  const privateText = formatOpenSshPrivateKey(seed, comment);
  const publicText = formatOpenSshPublicKey(publicKeyFromSeed(seed), comment);
  for (const f of [file, pubFile]) {
    if (fs.existsSync(f)) throw new ConfigError(`refusing to overwrite existing file ${f}`);
  }
  writeNewFileDurably(file, privateText, 0o600);
  try {
    writeNewFileDurably(pubFile, publicText, 0o644);
  } catch (err) {
    fs.rmSync(file, { force: true });
    syncDirectory(path.dirname(file));
    throw err;
  }
}

// link(2) fails with EEXIST instead of replacing, which rename(2) would do;
// that makes "never overwrite" atomic. These errors mean the filesystem has no
// hard links, where we fall back to check-then-rename.
const NO_LINK_SUPPORT = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/** Creates `file` with `data` via a synced temp file, never replacing an existing file. */
function writeNewFileDurably(file: string, data: string, mode: number): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      fs.fchmodSync(fd, mode); // the umask must not widen or narrow what we ask for
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EEXIST') throw new ConfigError(`refusing to overwrite existing file ${file}`);
      if (code === undefined || !NO_LINK_SUPPORT.has(code)) throw err;
      if (fs.existsSync(file)) throw new ConfigError(`refusing to overwrite existing file ${file}`);
      fs.renameSync(tmp, file);
    }
    syncDirectory(dir);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot write key file ${file}: ${errorMessage(err)}`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Makes a directory entry change durable (the file's own fsync does not cover it). */
function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// -------------------------------------------------------------------- helpers

function readSmallFile(file: string, source: string): string {
  let data: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_KEY_FILE_SIZE) throw new ConfigError(`${source}: ${size} bytes is too large for a key file`);
    data = fs.readFileSync(file);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = errnoCode(err);
    if (code === 'ENOENT') throw new ConfigError(`${source}: no such file`);
    throw new ConfigError(`cannot read ${source}: ${errorMessage(err)}`);
  }
  return data.toString('utf8');
}

function wrap(err: unknown, source: string): Error {
  if (err instanceof FormatError) return new ConfigError(`${source}: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
