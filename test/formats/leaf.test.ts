import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '../../src/crypto/index.js';
import {
  checksumOfMessage,
  decodeTreeLeaf,
  encodeTreeLeaf,
  leafSigningMessage,
  signLeaf,
  TREE_LEAF_SIZE,
  verifyLeafSignature,
} from '../../src/formats/leaf.js';
import { parseAddLeafRequest } from '../../src/formats/messages.js';
import { concatBytes, fromHex, toHex } from '../../src/hex.js';
import { asSignature } from '../../src/types.js';
import {
  FILE_CONTENTS,
  FILE_MESSAGE_HEX,
  hash,
  SUBMIT_ADD_LEAF_REQUEST,
  SUBMIT_KEY_HASH_HEX,
  SUBMIT_LEAF_HASH_HEX,
  submitSigner,
} from './fixtures.js';

describe('tree leaf', () => {
  it('signs namespace ‖ NUL ‖ checksum (56 bytes)', () => {
    const checksum = hash('aa'.repeat(32));
    const msg = leafSigningMessage(checksum);
    assert.equal(msg.length, 56);
    assert.equal(toHex(msg), toHex(new TextEncoder().encode('sigsum.org/v1/tree-leaf')) + '00' + 'aa'.repeat(32));
  });

  it('reproduces the signature sigsum-submit made for the same key and message', () => {
    const message = sha256(new TextEncoder().encode(FILE_CONTENTS));
    assert.equal(toHex(message), FILE_MESSAGE_HEX);
    const leaf = signLeaf(submitSigner, message);
    const req = parseAddLeafRequest(SUBMIT_ADD_LEAF_REQUEST);
    assert.equal(toHex(leaf.signature), toHex(req.signature));
    assert.equal(toHex(leaf.keyHash), SUBMIT_KEY_HASH_HEX);
    assert.equal(toHex(leaf.checksum), toHex(sha256(message)));
    assert.ok(verifyLeafSignature(req.publicKey, checksumOfMessage(req.message), req.signature));
  });

  it('encodes checksum ‖ signature ‖ key hash, matching the leaf hash sigsum-submit prints', () => {
    const leaf = signLeaf(submitSigner, fromHex(FILE_MESSAGE_HEX));
    const bytes = encodeTreeLeaf(leaf);
    assert.equal(bytes.length, TREE_LEAF_SIZE);
    assert.equal(toHex(bytes), toHex(leaf.checksum) + toHex(leaf.signature) + toHex(leaf.keyHash));
    assert.equal(toHex(sha256(new Uint8Array([0]), bytes)), SUBMIT_LEAF_HASH_HEX);
    assert.deepEqual(decodeTreeLeaf(bytes), leaf);
  });

  it('decodes into copies that do not alias the input', () => {
    const bytes = encodeTreeLeaf(signLeaf(submitSigner, fromHex(FILE_MESSAGE_HEX)));
    const leaf = decodeTreeLeaf(bytes);
    bytes.fill(0);
    assert.equal(toHex(leaf.keyHash), SUBMIT_KEY_HASH_HEX);
  });

  it('rejects wrong lengths', () => {
    assert.throws(() => decodeTreeLeaf(new Uint8Array(127)), RangeError);
    assert.throws(() => decodeTreeLeaf(new Uint8Array(129)), RangeError);
    assert.throws(() => signLeaf(submitSigner, new Uint8Array(33)), RangeError);
  });

  it('fails verification for another checksum, signature or key', () => {
    const leaf = signLeaf(submitSigner, fromHex(FILE_MESSAGE_HEX));
    const pub = submitSigner.publicKey;
    assert.ok(verifyLeafSignature(pub, leaf.checksum, leaf.signature));
    assert.ok(!verifyLeafSignature(pub, hash('00'.repeat(32)), leaf.signature));
    const flipped = asSignature(leaf.signature.slice());
    flipped[0]! ^= 1;
    assert.ok(!verifyLeafSignature(pub, leaf.checksum, flipped));
    // A signature over the bare checksum (no namespace) must not verify.
    const bare = submitSigner.sign(leaf.checksum);
    assert.ok(!verifyLeafSignature(pub, leaf.checksum, bare));
    const wrongNs = submitSigner.sign(concatBytes(new TextEncoder().encode('sigsum.org/v1/submit-token'), new Uint8Array([0]), leaf.checksum));
    assert.ok(!verifyLeafSignature(pub, leaf.checksum, wrongNs));
  });
});
