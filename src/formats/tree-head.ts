// Tree head types shared by every module that signs, stores, serves or
// verifies tree heads. Sizes and timestamps are JS numbers: the wire allows up
// to 2^63-1, but the parsers reject anything beyond 2^53-1.
import type { Hash, Signature } from '../types.js';

export interface TreeHead {
  size: number;
  rootHash: Hash;
}

export interface SignedTreeHead extends TreeHead {
  /** The log's Ed25519 signature over the checkpoint body (see checkpoint.ts). */
  signature: Signature;
}

/** A witness cosignature (cosignature/v1) on a tree head. */
export interface Cosignature {
  /** SHA-256 of the witness's public key. */
  keyHash: Hash;
  /** Seconds since the UNIX epoch, as signed by the witness. */
  timestamp: number;
  signature: Signature;
}

export interface CosignedTreeHead extends SignedTreeHead {
  cosignatures: Cosignature[];
}
