// Offline verification of a Sigsum proof against a policy, following the
// steps of sigsum-go doc/sigsum-proof.md ("Verifying a proof").
import { keyHash } from '../crypto/index.js';
import { ForbiddenError } from '../errors.js';
import { bytesEqual, toHex } from '../hex.js';
import { leafHash } from '../tree/hash.js';
import { verifyInclusion } from '../tree/verify.js';
import type { Hash, PublicKey } from '../types.js';
import { verifyCosignature, verifyTreeHeadSignature } from './checkpoint.js';
import { checksumOfMessage, encodeTreeLeaf, verifyLeafSignature } from './leaf.js';
import { findLog, findWitness, quorumSatisfied, type Policy } from './policy.js';
import type { SigsumProof } from './proof.js';

export class ProofVerificationError extends ForbiddenError {}

export interface VerifiedProof {
  /** Lowercase hex key hashes of the policy witnesses whose cosignatures verified. */
  witnesses: Set<string>;
}

/**
 * Verifies that `message` (the 32-byte value the submitter logged, e.g.
 * SHA-256 of a file) is logged according to `proof`, signed by one of
 * `submitKeys`, in a log of `policy`, with enough witness cosignatures.
 * Throws ProofVerificationError saying which step failed.
 */
export function verifySigsumProof(
  proof: SigsumProof,
  message: Uint8Array,
  submitKeys: readonly PublicKey[],
  policy: Policy,
): VerifiedProof {
  // A common mistake is passing the file instead of its hash; say so plainly.
  if (message.length !== 32) throw new RangeError('the logged message is 32 bytes (e.g. SHA-256 of the data)');
  const checksum = checksumOfMessage(message);

  // Key hashes must be equal bit for bit, which also rules out alternative
  // encodings of the same public key.
  const submitKey = submitKeys.find((k) => bytesEqual(keyHash(k), proof.leaf.keyHash));
  if (submitKey === undefined) throw new ProofVerificationError('unknown leaf key hash');
  const log = findLog(policy, proof.logKeyHash);
  if (log === undefined) throw new ProofVerificationError('unknown log');

  if (!verifyLeafSignature(submitKey, checksum, proof.leaf.signature)) {
    throw new ProofVerificationError('leaf signature not valid');
  }
  const th = proof.treeHead;
  if (!verifyTreeHeadSignature(log.publicKey, th)) throw new ProofVerificationError('invalid log signature');

  // Cosignatures by witnesses outside the policy are ignored; one that fails
  // to verify simply does not count (as in sigsum-go).
  const witnesses = new Set<string>();
  let failed = 0;
  for (const c of th.cosignatures) {
    const w = findWitness(policy, c.keyHash);
    if (w === undefined) continue;
    if (verifyCosignature(w.publicKey, proof.logKeyHash, th, c)) witnesses.add(toHex(c.keyHash));
    else failed++;
  }
  if (!quorumSatisfied(policy, witnesses)) {
    throw new ProofVerificationError(
      `not enough cosignatures, total: ${th.cosignatures.length}, verified: ${witnesses.size}, failed to verify: ${failed}`,
    );
  }

  const hash: Hash = leafHash(encodeTreeLeaf({ checksum, signature: proof.leaf.signature, keyHash: proof.leaf.keyHash }));
  const { leafIndex, path } = proof.inclusion;
  const included =
    th.size === 1
      ? leafIndex === 0 && path.length === 0 && bytesEqual(hash, th.rootHash)
      : verifyInclusion(hash, leafIndex, th.size, path, th.rootHash);
  if (!included) throw new ProofVerificationError('inclusion proof not valid');
  return { witnesses };
}
