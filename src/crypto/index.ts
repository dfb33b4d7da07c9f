// The one crypto module: SHA-256 and Ed25519. Backed by node:crypto (OpenSSL),
// chosen by `npm run bench`: Ed25519 verify is on the add-leaf hot path and
// node:crypto measured roughly 10x @noble/ed25519 on this machine.
import * as nodeCrypto from 'node:crypto';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import {
  asHash,
  asPrivateKeySeed,
  asPublicKey,
  asSignature,
  type Hash,
  type PrivateKeySeed,
  type PublicKey,
  type Signature,
  type Signer,
} from '../types.js';

// node:crypto's one-shot hash() (Node ≥ 20.12) with a latin1 string result
// skips createHash's object and the result Buffer: 0.39 µs per 65-byte input
// against 2.1 µs for createHash + digest, measured here. 'binary' is node's
// name for latin1 among digest encodings.
interface OneShotHash {
  (algorithm: string, data: Uint8Array, outputEncoding: 'binary'): string;
  (algorithm: string, data: Uint8Array, outputEncoding: 'buffer'): Buffer;
}
const oneShotHash = (nodeCrypto as unknown as { hash?: OneShotHash }).hash;

/**
 * SHA-256 of `input` as a 32-character latin1 string (one character per
 * byte). The Merkle tree's hot path keeps hashes in this form.
 */
export function sha256Latin1(input: Uint8Array): string {
  return oneShotHash === undefined ? createHash('sha256').update(input).digest('binary') : oneShotHash('sha256', input, 'binary');
}

export function sha256(...parts: Uint8Array[]): Hash {
  // One part (add-leaf's message and key hash) takes the one-shot path.
  if (parts.length === 1 && oneShotHash !== undefined) return asHash(new Uint8Array(oneShotHash('sha256', parts[0] as Uint8Array, 'buffer')));
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return asHash(new Uint8Array(h.digest()));
}

// DER prefixes that wrap a raw 32-byte Ed25519 key as SPKI / PKCS#8 (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// Submitters usually reuse one key for many leaves, so parsed KeyObjects are
// cached; the cache is bounded so hostile input cannot grow it without limit.
const PUBLIC_KEY_CACHE_LIMIT = 4096;
const publicKeyCache = new Map<string, KeyObject>();

function publicKeyObject(publicKey: PublicKey): KeyObject {
  const id = Buffer.from(publicKey).toString('latin1');
  let key = publicKeyCache.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.clear();
    publicKeyCache.set(id, key);
  }
  return key;
}

/**
 * Verifies an Ed25519 signature. Returns false (never throws) for a signature
 * that does not verify, including malformed public keys that are not points.
 */
export function ed25519Verify(publicKey: PublicKey, message: Uint8Array, signature: Signature): boolean {
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

export function ed25519Sign(seed: PrivateKeySeed, message: Uint8Array): Signature {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return asSignature(new Uint8Array(nodeSign(null, message, key)));
}

export function publicKeyFromSeed(seed: PrivateKeySeed): PublicKey {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return asPublicKey(new Uint8Array(der.subarray(der.length - 32)));
}

/** A signer that keeps the parsed private key, so repeated signing is cheap. */
export function signerFromSeed(seed: PrivateKeySeed): Signer {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = publicKeyFromSeed(seed);
  return {
    publicKey,
    sign: (message: Uint8Array) => asSignature(new Uint8Array(nodeSign(null, message, key))),
  };
}

export function generateSeed(): PrivateKeySeed {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return asPrivateKeySeed(new Uint8Array(der.subarray(der.length - 32)));
}

/** Sigsum key hash: SHA-256 of the raw 32-byte public key. */
export function keyHash(publicKey: PublicKey): Hash {
  return sha256(publicKey);
}
