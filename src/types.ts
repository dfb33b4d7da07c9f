// Distinct byte-array types, so that a Hash cannot be passed where a
// Signature or PublicKey is expected. The brand exists only at compile time;
// at run time every value is a plain Uint8Array. Construct them only through
// the checked constructors below (or the crypto module), which validate length.

declare const brand: unique symbol;
type Branded<T, B extends string> = T & { readonly [brand]: B };

/** A SHA-256 output: exactly 32 bytes. Used for leaf/node hashes, roots, checksums and key hashes. */
export type Hash = Branded<Uint8Array, 'Hash'>;
/** An Ed25519 signature: exactly 64 bytes. */
export type Signature = Branded<Uint8Array, 'Signature'>;
/** A raw Ed25519 public key: exactly 32 bytes. */
export type PublicKey = Branded<Uint8Array, 'PublicKey'>;
/** A raw Ed25519 private key seed: exactly 32 bytes. */
export type PrivateKeySeed = Branded<Uint8Array, 'PrivateKeySeed'>;

export const HASH_SIZE = 32;
export const SIGNATURE_SIZE = 64;
export const PUBLIC_KEY_SIZE = 32;

function checkLength(bytes: Uint8Array, want: number, what: string): void {
  if (bytes.length !== want) {
    throw new RangeError(`${what} must be ${want} bytes, got ${bytes.length}`);
  }
}

export function asHash(bytes: Uint8Array): Hash {
  checkLength(bytes, HASH_SIZE, 'hash');
  return bytes as Hash;
}
export function asSignature(bytes: Uint8Array): Signature {
  checkLength(bytes, SIGNATURE_SIZE, 'signature');
  return bytes as Signature;
}
export function asPublicKey(bytes: Uint8Array): PublicKey {
  checkLength(bytes, PUBLIC_KEY_SIZE, 'public key');
  return bytes as PublicKey;
}
export function asPrivateKeySeed(bytes: Uint8Array): PrivateKeySeed {
  checkLength(bytes, 32, 'private key seed');
  return bytes as PrivateKeySeed;
}

/** An Ed25519 key pair held in memory. */
export interface Signer {
  readonly publicKey: PublicKey;
  sign(message: Uint8Array): Signature;
}

/**
 * A node's signing key wherever it is held: in memory (a private key file) or
 * in an ssh-agent (a hardware token behind sigsum-agent), hence asynchronous.
 * A returned signature has been verified with `publicKey`; a failure rejects,
 * so nothing is ever signed half-way.
 */
export interface AsyncSigner {
  readonly publicKey: PublicKey;
  sign(message: Uint8Array): Promise<Signature>;
}
