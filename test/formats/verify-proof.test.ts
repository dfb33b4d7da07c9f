import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { parsePolicy } from '../../src/formats/policy.js';
import { parseSigsumProof, type SigsumProof } from '../../src/formats/proof.js';
import { ProofVerificationError, verifySigsumProof } from '../../src/formats/verify-proof.js';
import { fromHex } from '../../src/hex.js';
import { asHash } from '../../src/types.js';
import {
  FILE_MESSAGE_HEX,
  LOG_PUBLIC_KEY_HEX,
  logSigner,
  POLICY_TEXT,
  PROOF_SIZE_1,
  PROOF_SIZE_3,
  submitSigner,
  WITNESS_KEY_HASH_HEX,
  WITNESS_PUBLIC_KEY_HEX,
  witnessSigner,
} from './fixtures.js';

const message = fromHex(FILE_MESSAGE_HEX);
const policy = parsePolicy(POLICY_TEXT);
const keys = [submitSigner.publicKey];

function rejects(proof: SigsumProof, want: RegExp, opts: { msg?: Uint8Array; pol?: string; keys?: typeof keys } = {}): void {
  assert.throws(
    () => verifySigsumProof(proof, opts.msg ?? message, opts.keys ?? keys, opts.pol === undefined ? policy : parsePolicy(opts.pol)),
    (e: unknown) => e instanceof ProofVerificationError && e.status === 403 && want.test(e.message),
  );
}

describe('verifySigsumProof', () => {
  const p1 = parseSigsumProof(PROOF_SIZE_1);
  const p3 = parseSigsumProof(PROOF_SIZE_3);

  it('accepts the proofs sigsum-verify accepts', () => {
    assert.deepEqual(verifySigsumProof(p3, message, keys, policy).witnesses, new Set([WITNESS_KEY_HASH_HEX]));
    assert.deepEqual(verifySigsumProof(p1, message, keys, policy).witnesses, new Set([WITNESS_KEY_HASH_HEX]));
  });

  it('rejects another message, submitter or log', () => {
    rejects(p3, /leaf signature/, { msg: new Uint8Array(32) });
    rejects(p3, /unknown leaf key hash/, { keys: [witnessSigner.publicKey] });
    rejects(p3, /unknown log/, { pol: `log ${WITNESS_PUBLIC_KEY_HEX}\nquorum none\n` });
    assert.throws(() => verifySigsumProof(p3, new TextEncoder().encode('hello sigsum\n'), keys, policy), RangeError);
  });

  it('enforces the quorum, ignoring unknown witnesses and counting only valid cosignatures', () => {
    const other = '42'.repeat(32);
    rejects(p3, /not enough cosignatures, total: 1, verified: 0, failed to verify: 0/, {
      pol: `log ${LOG_PUBLIC_KEY_HEX}\nwitness X ${other}\nquorum X\n`,
    });
    rejects(p3, /verified: 1/, {
      pol: `log ${LOG_PUBLIC_KEY_HEX}\nwitness W ${WITNESS_PUBLIC_KEY_HEX}\nwitness X ${other}\ngroup g all W X\nquorum g\n`,
    });
    const badCosig = { ...p3, treeHead: { ...p3.treeHead, cosignatures: [{ ...p3.treeHead.cosignatures[0]!, timestamp: 1 }] } };
    rejects(badCosig, /failed to verify: 1/);
    // With quorum none the invalid cosignature does not matter.
    assert.deepEqual(
      verifySigsumProof(badCosig, message, keys, parsePolicy(`log ${LOG_PUBLIC_KEY_HEX}\nquorum none\n`)).witnesses,
      new Set(),
    );
  });

  it('rejects a bad log signature', () => {
    rejects({ ...p3, treeHead: { ...p3.treeHead, size: 4 } }, /invalid log signature/);
  });

  it('rejects a bad inclusion proof', () => {
    const flipped = p3.inclusion.path.map((h) => asHash(h.slice()));
    flipped[1]![0]! ^= 1;
    rejects({ ...p3, inclusion: { leafIndex: 1, path: flipped } }, /inclusion/);
    rejects({ ...p3, inclusion: { leafIndex: 0, path: p3.inclusion.path } }, /inclusion/);
    rejects({ ...p3, inclusion: { leafIndex: 1, path: p3.inclusion.path.slice(0, 1) } }, /inclusion/);
  });

  it('checks a size-1 tree by comparing the leaf hash with the root', () => {
    const none = `log ${LOG_PUBLIC_KEY_HEX}\nquorum none\n`;
    // Correctly signed size-1 tree head, but its root is not this leaf.
    const sth = signTreeHead(logSigner, { size: 1, rootHash: asHash(new Uint8Array(32).fill(7)) });
    rejects({ ...p1, treeHead: { ...sth, cosignatures: [] } }, /inclusion/, { pol: none });
    // A path or non-zero index is not allowed for size 1 either.
    rejects({ ...p1, inclusion: { leafIndex: 0, path: [p1.treeHead.rootHash] } }, /inclusion/);
    rejects({ ...p1, inclusion: { leafIndex: 1, path: [] } }, /inclusion/);
  });
});
