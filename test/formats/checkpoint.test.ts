import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cachedTreeHeadSigner,
  checkpointBody,
  cosignatureMessage,
  cosignTreeHead,
  logOrigin,
  signTreeHead,
  verifyCosignature,
  verifyTreeHeadSignature,
} from '../../src/formats/checkpoint.js';
import { parseSigsumProof } from '../../src/formats/proof.js';
import { keyHash } from '../../src/crypto/index.js';
import { fromHex, toHex } from '../../src/hex.js';
import { asHash, asSignature } from '../../src/types.js';
import {
  hash,
  LOG_KEY_HASH_HEX,
  LOG_PUBLIC_KEY_HEX,
  logSigner,
  PROOF_SIZE_3,
  WITNESS_KEY_HASH_HEX,
  witnessSigner,
} from './fixtures.js';

const logKH = hash(LOG_KEY_HASH_HEX);

describe('tree head checkpoint', () => {
  it('uses the key hash sigsum-key prints', () => {
    assert.equal(toHex(logSigner.publicKey), LOG_PUBLIC_KEY_HEX);
    assert.equal(toHex(keyHash(logSigner.publicKey)), LOG_KEY_HASH_HEX);
  });

  it('formats the body as in log.md §2.2.2', () => {
    // The example in log.md: size 15368405, root 31JQ…XeE=.
    const root = asHash(Buffer.from('31JQUq8EyQx5lpqtKRqryJzA+77WD2xmTyuB4uIlXeE=', 'base64'));
    const kh = hash('d99ec0951097ff7b46d6e333ab0f7a68f443846bc81c44b97a7888b6aec31040');
    assert.equal(logOrigin(kh), 'sigsum.org/v1/tree/d99ec0951097ff7b46d6e333ab0f7a68f443846bc81c44b97a7888b6aec31040');
    assert.equal(
      checkpointBody(kh, { size: 15368405, rootHash: root }),
      'sigsum.org/v1/tree/d99ec0951097ff7b46d6e333ab0f7a68f443846bc81c44b97a7888b6aec31040\n15368405\n31JQUq8EyQx5lpqtKRqryJzA+77WD2xmTyuB4uIlXeE=\n',
    );
  });

  it('formats the cosignature/v1 message as in log.md §2.2.3', () => {
    const root = asHash(Buffer.from('31JQUq8EyQx5lpqtKRqryJzA+77WD2xmTyuB4uIlXeE=', 'base64'));
    const kh = hash('3620c0d515f87e60959d29a4682fd1f0db984704981fda39b3e9ba0a44f57e2f');
    assert.equal(
      cosignatureMessage(kh, { size: 15368405, rootHash: root }, 1679315147),
      'cosignature/v1\ntime 1679315147\nsigsum.org/v1/tree/3620c0d515f87e60959d29a4682fd1f0db984704981fda39b3e9ba0a44f57e2f\n15368405\n31JQUq8EyQx5lpqtKRqryJzA+77WD2xmTyuB4uIlXeE=\n',
    );
  });

  it('signs the body directly, reproducing a sigsum-go test vector', () => {
    // sigsum-go pkg/checkpoint: seed 0x11‖0…, size 10, root 1c 0e 47 0…,
    // note signature gJ2ho0n8… = key ID 809da1a3 ‖ Ed25519 signature.
    const root = asHash(new Uint8Array(32));
    root.set([28, 14, 71]);
    const sth = signTreeHead(logSigner, { size: 10, rootHash: root });
    const blob = Buffer.from(
      'gJ2ho0n8F8olcerUF1FFdv235A/5as/coWrpLrtE7ovMeP5whgwouYExowG/lTznxu6OUGjjt5yJQ6bXtTcf718MqAQ=',
      'base64',
    );
    assert.equal(toHex(sth.signature), toHex(blob.subarray(4)));
    assert.ok(verifyTreeHeadSignature(logSigner.publicKey, sth));
  });

  it('a cached signer signs once per distinct head, with the same bytes as signTreeHead', async () => {
    let signed = 0;
    const counting = { publicKey: logSigner.publicKey, sign: async (m: Uint8Array) => (signed++, logSigner.sign(m)) };
    const sign = cachedTreeHeadSigner(counting);
    const a = { size: 5, rootHash: hash('aa'.repeat(32)) };
    const b = { size: 5, rootHash: hash('bb'.repeat(32)) };
    const [first, concurrent] = await Promise.all([sign(a), sign(a)]);
    assert.deepEqual(first, signTreeHead(logSigner, a));
    assert.deepEqual(concurrent, first);
    await sign({ ...a, rootHash: hash('aa'.repeat(32)) });
    assert.equal(signed, 1, 'an equal head is not signed again, not even by a concurrent poll');
    assert.deepEqual(await sign(b), signTreeHead(logSigner, b), 'same size, other root: signed anew');
    assert.deepEqual(await sign({ ...a, size: 6 }), signTreeHead(logSigner, { ...a, size: 6 }), 'other size: signed anew');
    assert.equal(signed, 3);
  });

  it('a cached signer does not remember a failed signing', async () => {
    let fail = true;
    const flaky = {
      publicKey: logSigner.publicKey,
      sign: async (m: Uint8Array) => {
        if (fail) throw new Error('agent gone');
        return logSigner.sign(m);
      },
    };
    const sign = cachedTreeHeadSigner(flaky);
    const a = { size: 5, rootHash: hash('aa'.repeat(32)) };
    await assert.rejects(sign(a), /agent gone/);
    fail = false;
    assert.deepEqual(await sign(a), signTreeHead(logSigner, a), 'the next poll signs again');
  });

  it('rejects a tree head signature for another size, root, or key', () => {
    const sth = signTreeHead(logSigner, { size: 5, rootHash: hash('55'.repeat(32)) });
    assert.ok(verifyTreeHeadSignature(logSigner.publicKey, sth));
    assert.ok(!verifyTreeHeadSignature(logSigner.publicKey, { ...sth, size: 6 }));
    assert.ok(!verifyTreeHeadSignature(logSigner.publicKey, { ...sth, rootHash: hash('56'.repeat(32)) }));
    assert.ok(!verifyTreeHeadSignature(witnessSigner.publicKey, sth));
    assert.ok(!verifyTreeHeadSignature(logSigner.publicKey, { ...sth, size: -1 }));
    assert.ok(!verifyTreeHeadSignature(logSigner.publicKey, { ...sth, size: 2 ** 53 }));
  });

  it('verifies the log and witness signatures of a proof sigsum-verify accepts', () => {
    const { treeHead } = parseSigsumProof(PROOF_SIZE_3);
    assert.ok(verifyTreeHeadSignature(logSigner.publicKey, treeHead));
    const cosig = treeHead.cosignatures[0]!;
    assert.equal(toHex(cosig.keyHash), WITNESS_KEY_HASH_HEX);
    assert.ok(verifyCosignature(witnessSigner.publicKey, logKH, treeHead, cosig));
    // Our signing is deterministic (Ed25519), so it reproduces the same bytes.
    assert.deepEqual(cosignTreeHead(witnessSigner, logKH, treeHead, 1700000000), cosig);
    assert.deepEqual(signTreeHead(logSigner, treeHead).signature, treeHead.signature);
  });

  it('rejects cosignatures for another time, tree, log, or key', () => {
    const th = { size: 7, rootHash: hash('77'.repeat(32)) };
    const c = cosignTreeHead(witnessSigner, logKH, th, 1700000000);
    const w = witnessSigner.publicKey;
    assert.ok(verifyCosignature(w, logKH, th, c));
    assert.ok(!verifyCosignature(w, logKH, th, { ...c, timestamp: 1700000001 }));
    assert.ok(!verifyCosignature(w, logKH, { ...th, size: 8 }, c));
    assert.ok(!verifyCosignature(w, hash('00'.repeat(32)), th, c));
    assert.ok(!verifyCosignature(logSigner.publicKey, logKH, th, c));
    // Right signature, but claimed for another witness.
    assert.ok(!verifyCosignature(w, logKH, th, { ...c, keyHash: logKH }));
    const bad = asSignature(fromHex(toHex(c.signature)));
    bad[63]! ^= 0x40;
    assert.ok(!verifyCosignature(w, logKH, th, { ...c, signature: bad }));
  });
});
