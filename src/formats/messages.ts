// Request and response bodies of the Sigsum v1 log endpoints (log.md §3),
// each as a parse/format pair over the ASCII key=value format.
import { asHash, asPublicKey, asSignature, HASH_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE } from '../types.js';
import type { Hash, PublicKey, Signature } from '../types.js';
import { toHex } from '../hex.js';
import {
  AsciiError,
  formatInt,
  parseAscii,
  parseHexField,
  parseSafeIntField,
  splitValue,
  writeAscii,
  type AsciiField,
} from './ascii.js';
import type { TreeLeaf } from './leaf.js';
import type { Cosignature, CosignedTreeHead, SignedTreeHead, TreeHead } from './tree-head.js';

/**
 * At most 63 node hashes: an inclusion or consistency path in a tree of at
 * most 2^63-1 leaves is never longer, and sigsum-go rejects longer ones.
 */
export const MAX_PATH_LENGTH = 63;

/** One key=value line. */
export type Pair = readonly [string, string];

// --- add-leaf --------------------------------------------------------------

export interface AddLeafRequest {
  /** The 32-byte message; the leaf's checksum is SHA-256(message). */
  message: Hash;
  signature: Signature;
  publicKey: PublicKey;
}

const ADD_LEAF_FIELDS: readonly AsciiField[] = [{ name: 'message' }, { name: 'signature' }, { name: 'public_key' }];

// The one well-formed shape of an add-leaf body (hex of exact lengths, either
// case, as fromHex accepts). add-leaf is the hot path, so a body of this shape
// is decoded directly; anything else goes through parseAscii, which names
// what is wrong. Both accept exactly the same bodies.
const ADD_LEAF_RE = /^message=([0-9a-fA-F]{64})\nsignature=([0-9a-fA-F]{128})\npublic_key=([0-9a-fA-F]{64})\n$/;

function hexBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function parseAddLeafRequest(text: string): AddLeafRequest {
  const exact = ADD_LEAF_RE.exec(text);
  if (exact !== null) {
    return {
      message: asHash(hexBytes(exact[1] as string)),
      signature: asSignature(hexBytes(exact[2] as string)),
      publicKey: asPublicKey(hexBytes(exact[3] as string)),
    };
  }
  const m = parseAscii(text, ADD_LEAF_FIELDS);
  return {
    message: asHash(parseHexField('message', m.get('message')![0]!, HASH_SIZE)),
    signature: asSignature(parseHexField('signature', m.get('signature')![0]!, SIGNATURE_SIZE)),
    publicKey: asPublicKey(parseHexField('public_key', m.get('public_key')![0]!, PUBLIC_KEY_SIZE)),
  };
}

export function formatAddLeafRequest(req: AddLeafRequest): string {
  return writeAscii([
    ['message', toHex(req.message)],
    ['signature', toHex(req.signature)],
    ['public_key', toHex(req.publicKey)],
  ]);
}

// --- tree heads --------------------------------------------------------------

const TREE_HEAD_FIELDS: readonly AsciiField[] = [{ name: 'size' }, { name: 'root_hash' }];
const SIGNED_TREE_HEAD_FIELDS: readonly AsciiField[] = [...TREE_HEAD_FIELDS, { name: 'signature' }];
const COSIGNED_TREE_HEAD_FIELDS: readonly AsciiField[] = [
  ...SIGNED_TREE_HEAD_FIELDS,
  { name: 'cosignature', repeat: true, optional: true },
];

/** The key list of a get-tree-head response, for composing larger documents. */
export const COSIGNED_TREE_HEAD_KEYS: readonly AsciiField[] = COSIGNED_TREE_HEAD_FIELDS;

function treeHeadFrom(m: Map<string, string[]>): TreeHead {
  return {
    size: parseSafeIntField('size', m.get('size')![0]!),
    rootHash: asHash(parseHexField('root_hash', m.get('root_hash')![0]!, HASH_SIZE)),
  };
}

function signedTreeHeadFrom(m: Map<string, string[]>): SignedTreeHead {
  return {
    ...treeHeadFrom(m),
    signature: asSignature(parseHexField('signature', m.get('signature')![0]!, SIGNATURE_SIZE)),
  };
}

/** Parses one `cosignature=` value: `<key hash hex> <timestamp> <signature hex>`. */
export function parseCosignatureValue(value: string): Cosignature {
  const [kh, ts, sig] = splitValue('cosignature', value, 3) as [string, string, string];
  return {
    keyHash: asHash(parseHexField('cosignature', kh, HASH_SIZE)),
    timestamp: parseSafeIntField('cosignature', ts),
    signature: asSignature(parseHexField('cosignature', sig, SIGNATURE_SIZE)),
  };
}

export function formatCosignatureValue(c: Cosignature): string {
  return `${toHex(c.keyHash)} ${formatInt(c.timestamp)} ${toHex(c.signature)}`;
}

/**
 * Builds a CosignedTreeHead from parsed fields (see COSIGNED_TREE_HEAD_KEYS).
 * Two cosignatures from one witness are rejected, as sigsum-go does: a
 * verifier keyed by witness could otherwise see either one.
 */
export function cosignedTreeHeadFrom(m: Map<string, string[]>): CosignedTreeHead {
  const cosignatures = m.get('cosignature')!.map(parseCosignatureValue);
  const seen = new Set<string>();
  for (const c of cosignatures) {
    const id = toHex(c.keyHash);
    if (seen.has(id)) throw new AsciiError(`key 'cosignature': duplicate cosignature from witness ${id}`);
    seen.add(id);
  }
  return { ...signedTreeHeadFrom(m), cosignatures };
}

function treeHeadPairs(th: TreeHead): Pair[] {
  return [
    ['size', formatInt(th.size)],
    ['root_hash', toHex(th.rootHash)],
  ];
}

function signedTreeHeadPairs(sth: SignedTreeHead): Pair[] {
  return [...treeHeadPairs(sth), ['signature', toHex(sth.signature)]];
}

/** The key/value pairs of a get-tree-head response, for composing larger documents. */
export function cosignedTreeHeadPairs(cth: CosignedTreeHead): Pair[] {
  const seen = new Set<string>();
  for (const c of cth.cosignatures) {
    const id = toHex(c.keyHash);
    if (seen.has(id)) throw new Error(`duplicate cosignature from witness ${id}`);
    seen.add(id);
  }
  return [...signedTreeHeadPairs(cth), ...cth.cosignatures.map((c): Pair => ['cosignature', formatCosignatureValue(c)])];
}

/** Unsigned tree head: `size`, `root_hash`. */
export function parseTreeHead(text: string): TreeHead {
  return treeHeadFrom(parseAscii(text, TREE_HEAD_FIELDS));
}

export function formatTreeHead(th: TreeHead): string {
  return writeAscii(treeHeadPairs(th));
}

/** Signed tree head: `size`, `root_hash`, `signature`. */
export function parseSignedTreeHead(text: string): SignedTreeHead {
  return signedTreeHeadFrom(parseAscii(text, SIGNED_TREE_HEAD_FIELDS));
}

export function formatSignedTreeHead(sth: SignedTreeHead): string {
  return writeAscii(signedTreeHeadPairs(sth));
}

/** get-tree-head response: signed tree head then zero or more `cosignature` lines. */
export function parseCosignedTreeHead(text: string): CosignedTreeHead {
  return cosignedTreeHeadFrom(parseAscii(text, COSIGNED_TREE_HEAD_FIELDS));
}

/** Cosignatures are written in the order given. */
export function formatCosignedTreeHead(cth: CosignedTreeHead): string {
  return writeAscii(cosignedTreeHeadPairs(cth));
}

// --- proofs --------------------------------------------------------------------

export interface InclusionProof {
  leafIndex: number;
  /** Sibling hashes from the leaf upwards (RFC 6962 order). */
  path: Hash[];
}

const INCLUSION_PROOF_FIELDS: readonly AsciiField[] = [{ name: 'leaf_index' }, { name: 'node_hash', repeat: true }];
const CONSISTENCY_PROOF_FIELDS: readonly AsciiField[] = [{ name: 'node_hash', repeat: true }];

/** The key list of a get-inclusion-proof response, for composing larger documents. */
export const INCLUSION_PROOF_KEYS: readonly AsciiField[] = INCLUSION_PROOF_FIELDS;

function pathFrom(values: string[]): Hash[] {
  if (values.length > MAX_PATH_LENGTH) {
    throw new AsciiError(`key 'node_hash': more than ${MAX_PATH_LENGTH} node hashes`);
  }
  return values.map((v) => asHash(parseHexField('node_hash', v, HASH_SIZE)));
}

function pathPairs(path: readonly Hash[]): Pair[] {
  // The wire format has no way to say "empty path": callers must special-case
  // the trees where no proof is needed (size 1, or equal sizes) instead.
  if (path.length === 0) throw new Error('a proof path on the wire must have at least one node hash');
  if (path.length > MAX_PATH_LENGTH) throw new Error(`proof path longer than ${MAX_PATH_LENGTH}`);
  return path.map((h): Pair => ['node_hash', toHex(h)]);
}

export function inclusionProofFrom(m: Map<string, string[]>): InclusionProof {
  return {
    leafIndex: parseSafeIntField('leaf_index', m.get('leaf_index')![0]!),
    path: pathFrom(m.get('node_hash')!),
  };
}

export function inclusionProofPairs(proof: InclusionProof): Pair[] {
  return [['leaf_index', formatInt(proof.leafIndex)], ...pathPairs(proof.path)];
}

/** get-inclusion-proof response: `leaf_index` then one or more `node_hash`. */
export function parseInclusionProof(text: string): InclusionProof {
  return inclusionProofFrom(parseAscii(text, INCLUSION_PROOF_FIELDS));
}

/** Throws for an empty path: get-inclusion-proof is only defined for size ≥ 2. */
export function formatInclusionProof(proof: InclusionProof): string {
  return writeAscii(inclusionProofPairs(proof));
}

/** get-consistency-proof response: one or more `node_hash`. */
export function parseConsistencyProof(text: string): Hash[] {
  return pathFrom(parseAscii(text, CONSISTENCY_PROOF_FIELDS).get('node_hash')!);
}

/** Throws for an empty path: get-consistency-proof needs new_size > old_size > 0. */
export function formatConsistencyProof(path: readonly Hash[]): string {
  return writeAscii(pathPairs(path));
}

// --- leaves ----------------------------------------------------------------------

const LEAVES_FIELDS: readonly AsciiField[] = [{ name: 'leaf', repeat: true }];

function parseLeafValue(value: string): TreeLeaf {
  const [checksum, signature, keyHash] = splitValue('leaf', value, 3) as [string, string, string];
  return {
    checksum: asHash(parseHexField('leaf', checksum, HASH_SIZE)),
    signature: asSignature(parseHexField('leaf', signature, SIGNATURE_SIZE)),
    keyHash: asHash(parseHexField('leaf', keyHash, HASH_SIZE)),
  };
}

/**
 * get-leaves response: one or more `leaf=<checksum> <signature> <key_hash>`.
 * `maxCount` bounds the answer to what was asked for.
 */
export function parseLeaves(text: string, maxCount = Number.MAX_SAFE_INTEGER): TreeLeaf[] {
  const values = parseAscii(text, LEAVES_FIELDS).get('leaf')!;
  if (values.length > maxCount) throw new AsciiError(`key 'leaf': more than ${maxCount} leaves`);
  return values.map(parseLeafValue);
}

/** Throws for an empty list: a successful get-leaves returns at least one leaf. */
/**
 * get-leaves from encoded 128-byte tree leaves (checksum ‖ signature ‖ key
 * hash), as the store holds them: one hex conversion per leaf, no decoding.
 * This is the replication read path, so it matters.
 */
export function formatEncodedLeaves(leaves: readonly Uint8Array[]): string {
  if (leaves.length === 0) throw new Error('get-leaves must return at least one leaf');
  let out = '';
  for (const leaf of leaves) {
    if (leaf.length !== 128) throw new Error(`a tree leaf is 128 bytes, got ${leaf.length}`);
    const hex = Buffer.from(leaf.buffer, leaf.byteOffset, leaf.length).toString('hex');
    out += `leaf=${hex.slice(0, 64)} ${hex.slice(64, 192)} ${hex.slice(192)}\n`;
  }
  return out;
}

export function formatLeaves(leaves: readonly TreeLeaf[]): string {
  if (leaves.length === 0) throw new Error('get-leaves must return at least one leaf');
  return writeAscii(
    leaves.map((l): Pair => ['leaf', `${toHex(l.checksum)} ${toHex(l.signature)} ${toHex(l.keyHash)}`]),
  );
}
