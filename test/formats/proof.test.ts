import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsciiError } from '../../src/formats/ascii.js';
import { formatSigsumProof, parseSigsumProof, type SigsumProof } from '../../src/formats/proof.js';
import { toHex } from '../../src/hex.js';
import { LOG_KEY_HASH_HEX, PROOF_SIZE_1, PROOF_SIZE_3, SUBMIT_KEY_HASH_HEX, WITNESS_KEY_HASH_HEX } from './fixtures.js';

describe('Sigsum proof v2', () => {
  it('parses a size-3 proof sigsum-verify accepts and writes it back byte for byte', () => {
    const p = parseSigsumProof(PROOF_SIZE_3);
    assert.equal(toHex(p.logKeyHash), LOG_KEY_HASH_HEX);
    // The leaf line is key hash first, then signature.
    assert.equal(toHex(p.leaf.keyHash), SUBMIT_KEY_HASH_HEX);
    assert.equal(toHex(p.leaf.signature).slice(0, 8), '611ae200');
    assert.equal(p.treeHead.size, 3);
    assert.equal(p.treeHead.cosignatures.length, 1);
    assert.equal(toHex(p.treeHead.cosignatures[0]!.keyHash), WITNESS_KEY_HASH_HEX);
    assert.equal(p.treeHead.cosignatures[0]!.timestamp, 1700000000);
    assert.equal(p.inclusion.leafIndex, 1);
    assert.equal(p.inclusion.path.length, 2);
    assert.equal(formatSigsumProof(p), PROOF_SIZE_3);
  });

  it('omits the inclusion section for a size-1 tree', () => {
    const p = parseSigsumProof(PROOF_SIZE_1);
    assert.equal(p.treeHead.size, 1);
    assert.deepEqual(p.inclusion, { leafIndex: 0, path: [] });
    assert.equal(formatSigsumProof(p), PROOF_SIZE_1);
    assert.ok(PROOF_SIZE_1.endsWith('\n') && !PROOF_SIZE_1.endsWith('\n\n'));
  });

  it('accepts a proof without cosignatures', () => {
    const noCosig = PROOF_SIZE_3.replace(/cosignature=.*\n/, '');
    const p = parseSigsumProof(noCosig);
    assert.deepEqual(p.treeHead.cosignatures, []);
    assert.equal(formatSigsumProof(p), noCosig);
  });

  it('reads version 1, whose leaf line starts with a 4-hex-digit short checksum', () => {
    const v1 = PROOF_SIZE_3.replace('version=2', 'version=1').replace('leaf=', 'leaf=0b51 ');
    const p = parseSigsumProof(v1);
    assert.deepEqual(p, parseSigsumProof(PROOF_SIZE_3));
    // Written back as version 2.
    assert.equal(formatSigsumProof(p), PROOF_SIZE_3);
  });

  it('refuses to write size-0 proofs or size-1 proofs with a path', () => {
    const p: SigsumProof = parseSigsumProof(PROOF_SIZE_1);
    assert.throws(() => formatSigsumProof({ ...p, treeHead: { ...p.treeHead, size: 0 } }));
    assert.throws(() => formatSigsumProof({ ...p, inclusion: { leafIndex: 0, path: [p.treeHead.rootHash] } }));
    const p3 = parseSigsumProof(PROOF_SIZE_3);
    assert.throws(() => formatSigsumProof({ ...p3, inclusion: { leafIndex: 1, path: [] } }));
  });

  const sections = PROOF_SIZE_3.split('\n\n') as [string, string, string];
  const bad: Array<[string, string, RegExp]> = [
    ['version 3', PROOF_SIZE_3.replace('version=2', 'version=3'), /unsupported proof version 3/],
    ['version 02', PROOF_SIZE_3.replace('version=2', 'version=02'), /'version'/],
    ['a v1 leaf line in a v2 proof', PROOF_SIZE_3.replace('leaf=', 'leaf=0b51 '), /'leaf'/],
    ['a v2 leaf line in a v1 proof', PROOF_SIZE_3.replace('version=2', 'version=1'), /'leaf'/],
    ['a 3-digit short checksum', PROOF_SIZE_3.replace('version=2', 'version=1').replace('leaf=', 'leaf=0b5 '), /'leaf'/],
    ['a missing log line', PROOF_SIZE_3.replace(/log=.*\n/, ''), /missing key 'log'/],
    ['no tree head', `${sections[0]}\n`, /missing tree head/],
    ['size 0', PROOF_SIZE_1.replace('size=1', 'size=0'), /empty/],
    ['an inclusion proof for size 1', `${PROOF_SIZE_1}\n${sections[2]}`, /size-1/],
    ['a trailing blank line for size 1', `${PROOF_SIZE_1}\n`, /size-1/],
    ['no inclusion proof for size 3', `${sections[0]}\n\n${sections[1]}\n`, /missing inclusion proof/],
    ['two blank lines between sections', PROOF_SIZE_3.replace('\n\nsize=', '\n\n\nsize='), /empty line/],
    ['a trailing blank line', `${PROOF_SIZE_3}\n`, /too many sections/],
    ['no final newline', PROOF_SIZE_3.slice(0, -1), /final newline/],
    ['an empty inclusion path', `${sections[0]}\n\n${sections[1]}\n\nleaf_index=1\n`, /missing key 'node_hash'/],
    ['tree head keys in the header', PROOF_SIZE_3.replace('\n\nsize=', '\nsize='), /unexpected key 'size'/],
  ];
  for (const [what, text, want] of bad) {
    it(`rejects ${what}`, () => assert.throws(() => parseSigsumProof(text), (e: unknown) => e instanceof AsciiError && want.test(e.message)));
  }
});
