// Fixed keys and values cross-checked against the sigsum-go command line
// tools (sigsum-key, sigsum-submit, sigsum-verify, sigsum-witness). The
// seeds were turned into OpenSSH key files; every hex/base64 constant below
// is what those tools printed or accepted for them.
import { signerFromSeed } from '../../src/crypto/index.js';
import { fromHex } from '../../src/hex.js';
import { asHash, asPrivateKeySeed, type Hash } from '../../src/types.js';

export const hash = (hex: string): Hash => asHash(fromHex(hex));

/** Log key: seed 0x11 ‖ 0^31 (also sigsum-go's own checkpoint test key). */
export const logSigner = signerFromSeed(asPrivateKeySeed(fromHex('11'.padEnd(64, '0'))));
export const LOG_PUBLIC_KEY_HEX = '66e0b858e462a609e66fe71370c816d8846ff103d5499a22a7fec37fdbc424a7';
/** `sigsum-key to-hash` of the log key. */
export const LOG_KEY_HASH_HEX = 'e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69';

/** Submitter key: seed 01 02 … 20. */
export const submitSigner = signerFromSeed(
  asPrivateKeySeed(fromHex('0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20')),
);
export const SUBMIT_PUBLIC_KEY_HEX = '79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664';
export const SUBMIT_KEY_HASH_HEX = '65b60673d6ed884bf01c2c222d82ada0740f29ac3355d6a925c81f17f47a27b8';

/** Witness key: seed 0x77 × 32. */
export const witnessSigner = signerFromSeed(asPrivateKeySeed(fromHex('77'.repeat(32))));
export const WITNESS_PUBLIC_KEY_HEX = 'c853ad0f0cd2b619aea92ceec4fd56a24d6499d584ce79257e45cfd8139b60a7';
export const WITNESS_KEY_HASH_HEX = 'd2f381d7b0b5f1d39239f186fdee4dd3bdba42ce9448709c1d54741131e7f814';

/** The file `hello sigsum\n`: sigsum-submit's message is SHA-256 of the file. */
export const FILE_CONTENTS = 'hello sigsum\n';
export const FILE_MESSAGE_HEX = '0b512dd3b0acc011a697e31f2cf5b1f2794de6ec55d652bc353ef500b3fb7ed4';

/** `sigsum-submit -k <submitter> file` output for that file. */
export const SUBMIT_ADD_LEAF_REQUEST =
  'message=0b512dd3b0acc011a697e31f2cf5b1f2794de6ec55d652bc353ef500b3fb7ed4\n' +
  'signature=611ae2004ae39e6f17e083575e4e0f73e6811307ced4d77e1f6de4c7991a4e32a67ffd5dc9a23f165a4fed07abcd3fab6aa899de61346743693f881eccdd4b0d\n' +
  'public_key=79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664\n';

/** `sigsum-submit --leaf-hash` for the same leaf: H(0x00 ‖ leaf). */
export const SUBMIT_LEAF_HASH_HEX = 'b536a9921d023263605de6b80e5bed64e27e8e6b47a5cae47ab1c227651fcf30';

/**
 * Proofs accepted by `sigsum-verify -k <submitter>.pub -p <policy>` for that
 * file, with POLICY_TEXT (witness cosignatures at time 1700000000).
 */
export const PROOF_SIZE_1 =
  'version=2\n' +
  'log=e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69\n' +
  'leaf=65b60673d6ed884bf01c2c222d82ada0740f29ac3355d6a925c81f17f47a27b8 611ae2004ae39e6f17e083575e4e0f73e6811307ced4d77e1f6de4c7991a4e32a67ffd5dc9a23f165a4fed07abcd3fab6aa899de61346743693f881eccdd4b0d\n' +
  '\n' +
  'size=1\n' +
  'root_hash=b536a9921d023263605de6b80e5bed64e27e8e6b47a5cae47ab1c227651fcf30\n' +
  'signature=7b3456d6e3aece571ce05dd07895a770c9d6c332f0753af7c3c5ac45dc2c60fec097bfb95ae7f5b57b447d6b47b9d1064814dceb401958885063ddd320b4b10b\n' +
  'cosignature=d2f381d7b0b5f1d39239f186fdee4dd3bdba42ce9448709c1d54741131e7f814 1700000000 c431429ae07a79bd7435fee17d6fd83f6f3801bd63b25dd007e34ebbaf9b8a9d5c076e4997baf7b3e9b0f83a2e479145980ae2f815cd7292abb2046eb0a7ab09\n';

/** Leaf at index 1 of a size-3 tree; the other leaves sign SHA-256("zero") and SHA-256("two"). */
export const PROOF_SIZE_3 =
  'version=2\n' +
  'log=e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69\n' +
  'leaf=65b60673d6ed884bf01c2c222d82ada0740f29ac3355d6a925c81f17f47a27b8 611ae2004ae39e6f17e083575e4e0f73e6811307ced4d77e1f6de4c7991a4e32a67ffd5dc9a23f165a4fed07abcd3fab6aa899de61346743693f881eccdd4b0d\n' +
  '\n' +
  'size=3\n' +
  'root_hash=df6318e141aca65381cde4aaee26ed529e220c69f5838e38f11e7641e05359c3\n' +
  'signature=258930ae4c4277dbb04754a44249a7fbf8123fef73239959ab4bca5632cf7d3fe9123bce9b29b6fd66798197e0ab6d6908f1bbef006392ff30e4dd0c236d1b01\n' +
  'cosignature=d2f381d7b0b5f1d39239f186fdee4dd3bdba42ce9448709c1d54741131e7f814 1700000000 ec660ee676a46cfc96452e9edf845a9af699e13fab62bafc048a55d74170f7001d291d6d313f25acc82cd34fb5a134dcacd6c3b06103ef28a25645d92454980b\n' +
  '\n' +
  'leaf_index=1\n' +
  'node_hash=fd9400805e7504e0a248584e279fcda616f927d36b07f1ace3f0870d853d7bf9\n' +
  'node_hash=9b6b754b4bc31a99e9151d001c97aca12c91994c5fb1ef42e41b7344039fe26b\n';

export const POLICY_TEXT =
  '# test policy\n' +
  'log 66e0b858e462a609e66fe71370c816d8846ff103d5499a22a7fec37fdbc424a7 http://127.0.0.1:1/\n' +
  'witness W1 c853ad0f0cd2b619aea92ceec4fd56a24d6499d584ce79257e45cfd8139b60a7\n' +
  'group G 1 W1\n' +
  'quorum G\n';

/**
 * A real sigsum-witness (run with the witness key and log key above)
 * answered add-checkpoint for the size-3 tree head of PROOF_SIZE_3 with this
 * line.
 */
export const WITNESS_RESPONSE =
  '\u2014 sigsum.org/v1/witness/d2f381d7b0b5f1d39239f186fdee4dd3bdba42ce9448709c1d54741131e7f814 ' +
  'zThyswAAAABrAnPD/vsIpAs4nd7U9SZN/bxdoxMFK498l0+HCdAVFDOtBv1+bXvfc52+j5XUS1D1cV9L78Kv0z/nVFRcX0RecLn4AA==\n';
export const WITNESS_RESPONSE_TIMESTAMP = 1795322819;
