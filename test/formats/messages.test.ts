import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsciiError, parseAscii, parseHexField } from '../../src/formats/ascii.js';
import {
  formatAddLeafRequest,
  formatConsistencyProof,
  formatCosignedTreeHead,
  formatInclusionProof,
  formatLeaves,
  formatSignedTreeHead,
  formatTreeHead,
  MAX_PATH_LENGTH,
  parseAddLeafRequest,
  parseConsistencyProof,
  parseCosignedTreeHead,
  parseInclusionProof,
  parseLeaves,
  parseSignedTreeHead,
  parseTreeHead,
} from '../../src/formats/messages.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { fromHex, toHex } from '../../src/hex.js';
import { asSignature } from '../../src/types.js';
import { hash, SUBMIT_ADD_LEAF_REQUEST } from './fixtures.js';

const h = (byte: number) => hash(byte.toString(16).padStart(2, '0').repeat(32));
const sig = (byte: number) => asSignature(fromHex(byte.toString(16).padStart(2, '0').repeat(64)));

describe('add-leaf request', () => {
  it('parses the body sigsum-submit produces and writes it back byte for byte', () => {
    const req = parseAddLeafRequest(SUBMIT_ADD_LEAF_REQUEST);
    assert.equal(toHex(req.message), '0b512dd3b0acc011a697e31f2cf5b1f2794de6ec55d652bc353ef500b3fb7ed4');
    assert.equal(toHex(req.publicKey), '79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664');
    assert.equal(toHex(req.signature).slice(0, 8), '611ae200');
    assert.equal(formatAddLeafRequest(req), SUBMIT_ADD_LEAF_REQUEST);
  });

  it('accepts upper-case hex and writes lower-case', () => {
    const req = parseAddLeafRequest(SUBMIT_ADD_LEAF_REQUEST.toUpperCase().replace(/MESSAGE|SIGNATURE|PUBLIC_KEY/g, (k) => k.toLowerCase()));
    assert.equal(formatAddLeafRequest(req), SUBMIT_ADD_LEAF_REQUEST);
  });

  const [m, s, k] = SUBMIT_ADD_LEAF_REQUEST.split('\n') as [string, string, string];
  const bad: Array<[string, string, RegExp]> = [
    ['33-byte message', `${m}00\n${s}\n${k}\n`, /'message'/],
    ['31-byte message', `${m.slice(0, -2)}\n${s}\n${k}\n`, /'message'/],
    ['short signature', `${m}\n${s.slice(0, -2)}\n${k}\n`, /'signature'/],
    ['odd-length public key', `${m}\n${s}\n${k.slice(0, -1)}\n`, /'public_key'/],
    ['swapped keys', `${s}\n${m}\n${k}\n`, /missing key 'message'/],
    ['missing public key', `${m}\n${s}\n`, /missing key 'public_key'/],
    ['extra key', `${m}\n${s}\n${k}\nfoo=bar\n`, /unexpected key 'foo'/],
    ['no final newline', `${m}\n${s}\n${k}`, /missing final newline after key 'public_key'/],
  ];
  for (const [what, text, want] of bad) {
    it(`rejects ${what}`, () => assert.throws(() => parseAddLeafRequest(text), (e: unknown) => e instanceof AsciiError && want.test(e.message)));
  }

  // parseAddLeafRequest decodes well-formed bodies without the general parser;
  // it must accept exactly what the general parser accepts, with equal values.
  it('accepts exactly the bodies the general ASCII parser accepts', () => {
    const general = (text: string): string | undefined => {
      try {
        const f = parseAscii(text, [{ name: 'message' }, { name: 'signature' }, { name: 'public_key' }]);
        return [
          toHex(parseHexField('message', f.get('message')![0]!, 32)),
          toHex(parseHexField('signature', f.get('signature')![0]!, 64)),
          toHex(parseHexField('public_key', f.get('public_key')![0]!, 32)),
        ].join(',');
      } catch (e) {
        assert.ok(e instanceof AsciiError);
        return undefined;
      }
    };
    const fast = (text: string): string | undefined => {
      try {
        const r = parseAddLeafRequest(text);
        return [toHex(r.message), toHex(r.signature), toHex(r.publicKey)].join(',');
      } catch (e) {
        assert.ok(e instanceof AsciiError);
        return undefined;
      }
    };
    const alphabet = ['a', 'F', 'g', '0', '=', '\n', '\r', ' ', '_', 'k', '\x80'];
    let rng = 1;
    const next = (n: number): number => {
      rng = (rng * 1103515245 + 12345) % 2 ** 31;
      return rng % n;
    };
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      let text = SUBMIT_ADD_LEAF_REQUEST;
      for (let edits = 1 + next(2); edits > 0; edits--) {
        const at = next(text.length + 1);
        const c = alphabet[next(alphabet.length)]!;
        const kind = next(3);
        text = kind === 0 ? text.slice(0, at) + c + text.slice(at + 1) : kind === 1 ? text.slice(0, at) + c + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
      }
      const want = general(text);
      assert.equal(fast(text), want, JSON.stringify(text));
      if (want !== undefined) accepted++;
    }
    assert.ok(accepted > 100, `only ${accepted} mutated bodies were valid; the test would not compare the accepting paths`);
  });
});

describe('tree heads', () => {
  const cth: CosignedTreeHead = {
    size: 1285,
    rootHash: h(0x81),
    signature: sig(0xe3),
    cosignatures: [
      { keyHash: h(0x1a), timestamp: 1687170591, signature: sig(0xca) },
      { keyHash: h(0x73), timestamp: 0, signature: sig(0x7f) },
    ],
  };
  const text =
    'size=1285\n' +
    `root_hash=${'81'.repeat(32)}\n` +
    `signature=${'e3'.repeat(64)}\n` +
    `cosignature=${'1a'.repeat(32)} 1687170591 ${'ca'.repeat(64)}\n` +
    `cosignature=${'73'.repeat(32)} 0 ${'7f'.repeat(64)}\n`;

  it('formats a cosigned tree head exactly, cosignatures in order', () => {
    assert.equal(formatCosignedTreeHead(cth), text);
  });
  it('round-trips a cosigned tree head', () => {
    assert.deepEqual(parseCosignedTreeHead(text), cth);
  });
  it('allows zero cosignatures', () => {
    const bare = text.split('cosignature=')[0]!;
    assert.deepEqual(parseCosignedTreeHead(bare), { ...cth, cosignatures: [] });
    assert.equal(formatCosignedTreeHead({ ...cth, cosignatures: [] }), bare);
  });
  it('formats and parses signed and unsigned tree heads', () => {
    const sthText = `size=1285\nroot_hash=${'81'.repeat(32)}\nsignature=${'e3'.repeat(64)}\n`;
    assert.equal(formatSignedTreeHead(cth), sthText);
    assert.deepEqual(parseSignedTreeHead(sthText), { size: 1285, rootHash: h(0x81), signature: sig(0xe3) });
    const thText = `size=0\nroot_hash=${'e3'.repeat(32)}\n`;
    assert.equal(formatTreeHead({ size: 0, rootHash: h(0xe3) }), thText);
    assert.deepEqual(parseTreeHead(thText), { size: 0, rootHash: h(0xe3) });
  });
  it('rejects a signature line on an unsigned tree head and cosignatures on a signed one', () => {
    assert.throws(() => parseTreeHead(`size=0\nroot_hash=${'e3'.repeat(32)}\nsignature=${'e3'.repeat(64)}\n`), /unexpected key 'signature'/);
    assert.throws(() => parseSignedTreeHead(text), /unexpected key 'cosignature'/);
  });
  it('refuses to format duplicate witnesses', () => {
    assert.throws(() => formatCosignedTreeHead({ ...cth, cosignatures: [cth.cosignatures[0]!, cth.cosignatures[0]!] }));
  });

  const bad: Array<[string, string, RegExp]> = [
    ['size with leading zero', text.replace('size=1285', 'size=01285'), /'size'/],
    ['size above 2^53-1', text.replace('size=1285', 'size=9007199254740992'), /'size'/],
    ['cosignature with two fields', text.replace(' 1687170591 ', ' '), /'cosignature'/],
    ['cosignature with double space', text.replace(' 1687170591 ', '  1687170591 '), /'cosignature'/],
    ['cosignature with bad timestamp', text.replace(' 1687170591 ', ' -1 '), /'cosignature'/],
    ['cosignature with short key hash', text.replace(`=${'1a'.repeat(32)}`, `=${'1a'.repeat(31)}`), /'cosignature'/],
    ['duplicate witness', text + `cosignature=${'1a'.repeat(32)} 1 ${'ca'.repeat(64)}\n`, /duplicate cosignature/],
    ['signature before root hash', `size=1\nsignature=${'e3'.repeat(64)}\nroot_hash=${'81'.repeat(32)}\n`, /missing key 'root_hash'/],
    ['cosignature then signature', text + `signature=${'e3'.repeat(64)}\n`, /duplicate key 'signature'/],
  ];
  for (const [what, input, want] of bad) {
    it(`rejects ${what}`, () => assert.throws(() => parseCosignedTreeHead(input), (e: unknown) => e instanceof AsciiError && want.test(e.message)));
  }
});

describe('inclusion proof', () => {
  // log.md §3.2 example response.
  const text =
    'leaf_index=2\n' +
    'node_hash=35fd6eb70d46d60679775c346225688e6e84c02c3c7978e5c51daf8decc22d2f\n' +
    'node_hash=11a2b46fb34efed4abbd144f8666bda8b83ee2ee6f7685062ed5cd68d616412a\n';
  it('parses and formats the spec example', () => {
    const proof = parseInclusionProof(text);
    assert.equal(proof.leafIndex, 2);
    assert.deepEqual(proof.path.map(toHex), [
      '35fd6eb70d46d60679775c346225688e6e84c02c3c7978e5c51daf8decc22d2f',
      '11a2b46fb34efed4abbd144f8666bda8b83ee2ee6f7685062ed5cd68d616412a',
    ]);
    assert.equal(formatInclusionProof(proof), text);
  });
  it('requires at least one node hash', () => {
    assert.throws(() => parseInclusionProof('leaf_index=0\n'), /missing key 'node_hash'/);
    assert.throws(() => formatInclusionProof({ leafIndex: 0, path: [] }));
  });
  it('accepts 63 node hashes but not 64', () => {
    const lines = (n: number) => 'leaf_index=0\n' + `node_hash=${'00'.repeat(32)}\n`.repeat(n);
    assert.equal(parseInclusionProof(lines(MAX_PATH_LENGTH)).path.length, 63);
    assert.throws(() => parseInclusionProof(lines(64)), /more than 63/);
  });
  it('rejects node_hash before leaf_index', () => {
    assert.throws(() => parseInclusionProof(`node_hash=${'00'.repeat(32)}\nleaf_index=0\n`), /missing key 'leaf_index'/);
  });
});

describe('consistency proof', () => {
  // log.md §3.3 example response.
  const text =
    'node_hash=3f94ccfa9482768b2ab42805df9c7612773bcb35c286a91d5aec5fbf42f50fec\n' +
    'node_hash=b4e2ff9fb485b20e63b3406ee5a17ddfe6287dd7614549debdca34fefb7334e7\n';
  it('parses and formats the spec example', () => {
    const path = parseConsistencyProof(text);
    assert.deepEqual(path.map(toHex), [
      '3f94ccfa9482768b2ab42805df9c7612773bcb35c286a91d5aec5fbf42f50fec',
      'b4e2ff9fb485b20e63b3406ee5a17ddfe6287dd7614549debdca34fefb7334e7',
    ]);
    assert.equal(formatConsistencyProof(path), text);
  });
  it('requires at least one node hash', () => {
    assert.throws(() => parseConsistencyProof(''), /missing key 'node_hash'/);
    assert.throws(() => formatConsistencyProof([]));
  });
  it('rejects a 31-byte node hash', () => {
    assert.throws(() => parseConsistencyProof(`node_hash=${'00'.repeat(31)}\n`), /'node_hash'/);
  });
});

describe('leaves', () => {
  // log.md §3.4 example response (first two leaves).
  const text =
    'leaf=9c30df06dd583ec46902b9313401ce172ff119d75c438aec2f33e439f467ce83 40160c833571c121bfdc6a02006053a80d3e91a8b73abb4dd0e07cc3098d8e58a41921d8f5649e9fb81c9b7c6b458747c4c3b49cc08c869867100a7f7be78902 5aa7e6233f9f4d2efbeb9eeef766dce8ba2aa5e8cdd3f53da94b5d59e67d92fc\n' +
    'leaf=a2eefef4abcafd5cb2d36fe4f30c624cab048466b73eda3100e72f8fab2d3442 aa5bd628d88be12d4f09feefe4bf65290b03bdeba8523fa38e396218140d79e0850132082914b08876cdc4a6041be8217402a57bfb8328310ad5407bc440060e 5aa7e6233f9f4d2efbeb9eeef766dce8ba2aa5e8cdd3f53da94b5d59e67d92fc\n';
  it('parses fields in checksum, signature, key hash order and formats back', () => {
    const leaves = parseLeaves(text);
    assert.equal(leaves.length, 2);
    assert.equal(toHex(leaves[0]!.checksum), '9c30df06dd583ec46902b9313401ce172ff119d75c438aec2f33e439f467ce83');
    assert.equal(toHex(leaves[0]!.signature).slice(0, 8), '40160c83');
    assert.equal(toHex(leaves[1]!.keyHash), '5aa7e6233f9f4d2efbeb9eeef766dce8ba2aa5e8cdd3f53da94b5d59e67d92fc');
    assert.equal(formatLeaves(leaves), text);
  });
  it('enforces at least one and at most maxCount leaves', () => {
    assert.throws(() => parseLeaves(''), /missing key 'leaf'/);
    assert.throws(() => formatLeaves([]));
    assert.throws(() => parseLeaves(text, 1), /more than 1 leaves/);
    assert.equal(parseLeaves(text, 2).length, 2);
  });
  it('rejects a leaf with the fields swapped or missing', () => {
    const [c, s, k] = text.split('\n')[0]!.slice('leaf='.length).split(' ') as [string, string, string];
    assert.throws(() => parseLeaves(`leaf=${s} ${c} ${k}\n`), /'leaf'/);
    assert.throws(() => parseLeaves(`leaf=${c} ${s}\n`), /'leaf'/);
  });
});

describe('formatEncodedLeaves', () => {
  it('writes exactly what formatLeaves writes for the decoded leaves', async () => {
    const { formatEncodedLeaves, formatLeaves: fl, parseLeaves: pl } = await import('../../src/formats/messages.js');
    const { decodeTreeLeaf } = await import('../../src/formats/leaf.js');
    const { randomBytes } = await import('node:crypto');
    const encoded = Array.from({ length: 5 }, () => new Uint8Array(randomBytes(128)));
    const text = formatEncodedLeaves(encoded);
    assert.equal(text, fl(encoded.map(decodeTreeLeaf)));
    assert.equal(pl(text).length, 5);
    assert.throws(() => formatEncodedLeaves([]), /at least one leaf/);
    assert.throws(() => formatEncodedLeaves([new Uint8Array(127)]), /128 bytes/);
  });
});
