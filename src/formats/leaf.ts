// The Sigsum tree leaf (log.md §2.2.4): checksum ‖ signature ‖ key_hash,
// 128 bytes, where the submitter signs "sigsum.org/v1/tree-leaf" ‖ 0x00 ‖
// checksum and checksum = SHA-256(message).
import { ed25519Verify, keyHash, sha256 } from '../crypto/index.js';
import { concatBytes } from '../hex.js';
import {
  asHash,
  asSignature,
  HASH_SIZE,
  SIGNATURE_SIZE,
  type Hash,
  type PublicKey,
  type Signature,
  type Signer,
} from '../types.js';

export interface TreeLeaf {
  checksum: Hash;
  signature: Signature;
  keyHash: Hash;
}

export const TREE_LEAF_SIZE = HASH_SIZE + SIGNATURE_SIZE + HASH_SIZE; // 128
export const TREE_LEAF_NAMESPACE = 'sigsum.org/v1/tree-leaf';

const NAMESPACE_PREFIX = concatBytes(new TextEncoder().encode(TREE_LEAF_NAMESPACE), new Uint8Array([0]));

export function encodeTreeLeaf(leaf: TreeLeaf): Uint8Array {
  return concatBytes(leaf.checksum, leaf.signature, leaf.keyHash);
}

/** Inverse of encodeTreeLeaf. Throws RangeError unless given exactly 128 bytes. */
export function decodeTreeLeaf(bytes: Uint8Array): TreeLeaf {
  if (bytes.length !== TREE_LEAF_SIZE) {
    throw new RangeError(`tree leaf must be ${TREE_LEAF_SIZE} bytes, got ${bytes.length}`);
  }
  // slice (not subarray) so the leaf does not pin a larger buffer, e.g. a page of leaves.
  return {
    checksum: asHash(bytes.slice(0, HASH_SIZE)),
    signature: asSignature(bytes.slice(HASH_SIZE, HASH_SIZE + SIGNATURE_SIZE)),
    keyHash: asHash(bytes.slice(HASH_SIZE + SIGNATURE_SIZE)),
  };
}

/** The 56 bytes a submitter signs: namespace ‖ 0x00 ‖ checksum. */
export function leafSigningMessage(checksum: Hash): Uint8Array {
  return concatBytes(NAMESPACE_PREFIX, checksum);
}

export function checksumOfMessage(message: Uint8Array): Hash {
  return sha256(message);
}

export function verifyLeafSignature(publicKey: PublicKey, checksum: Hash, signature: Signature): boolean {
  return ed25519Verify(publicKey, leafSigningMessage(checksum), signature);
}

/**
 * Builds the leaf a submitter with `signer` gets logged for `message`, which
 * must be 32 bytes since logs reject any other length.
 */
export function signLeaf(signer: Signer, message: Uint8Array): TreeLeaf {
  if (message.length !== HASH_SIZE) throw new RangeError(`leaf message must be ${HASH_SIZE} bytes`);
  const checksum = checksumOfMessage(message);
  return {
    checksum,
    signature: signer.sign(leafSigningMessage(checksum)),
    keyHash: keyHash(signer.publicKey),
  };
}
