// The Sigsum proof file, version 2 (sigsum-go doc/sigsum-proof.md): what a
// submitter distributes next to its data so that verifiers can check logging
// offline. Layout, sections separated by one empty line:
//
//   version=2 / log=<log key hash> / leaf=<submitter key hash> <signature>
//   the get-tree-head response (size, root_hash, signature, cosignature*)
//   the get-inclusion-proof response (leaf_index, node_hash+) — omitted when
//   size is 1, where leaf_index 0 and an empty path are implied.
//
// Version 1 differs only in its leaf line, `leaf=<4 hex digits of checksum>
// <key hash> <signature>`; it is still accepted on input.
import { toHex } from '../hex.js';
import { asHash, asSignature, HASH_SIZE, SIGNATURE_SIZE, type Hash, type Signature } from '../types.js';
import { AsciiError, parseAscii, parseHexField, parseIntField, splitValue, writeAscii, type AsciiField } from './ascii.js';
import {
  COSIGNED_TREE_HEAD_KEYS,
  cosignedTreeHeadFrom,
  cosignedTreeHeadPairs,
  INCLUSION_PROOF_KEYS,
  inclusionProofFrom,
  inclusionProofPairs,
  type InclusionProof,
} from './messages.js';
import type { CosignedTreeHead } from './tree-head.js';

export const SIGSUM_PROOF_VERSION = 2;

/** A tree leaf without its checksum, which the verifier recomputes from the message. */
export interface ShortLeaf {
  keyHash: Hash;
  signature: Signature;
}

export interface SigsumProof {
  logKeyHash: Hash;
  leaf: ShortLeaf;
  treeHead: CosignedTreeHead;
  /** For a tree of size 1: leafIndex 0 and an empty path. */
  inclusion: InclusionProof;
}

const HEADER_FIELDS: readonly AsciiField[] = [{ name: 'version' }, { name: 'log' }, { name: 'leaf' }];
const SHORT_CHECKSUM_SIZE = 2; // version 1 only

/** Writes a version 2 proof. Throws for size 0 (never valid) or a size-1 proof with a path. */
export function formatSigsumProof(proof: SigsumProof): string {
  const { treeHead, inclusion } = proof;
  if (treeHead.size === 0) throw new Error('a Sigsum proof needs a non-empty tree');
  const header = writeAscii([
    ['version', String(SIGSUM_PROOF_VERSION)],
    ['log', toHex(proof.logKeyHash)],
    ['leaf', `${toHex(proof.leaf.keyHash)} ${toHex(proof.leaf.signature)}`],
  ]);
  const head = writeAscii(cosignedTreeHeadPairs(treeHead));
  if (treeHead.size === 1) {
    if (inclusion.leafIndex !== 0 || inclusion.path.length !== 0) {
      throw new Error('a proof for a size-1 tree has leaf index 0 and no inclusion path');
    }
    return `${header}\n${head}`;
  }
  return `${header}\n${head}\n${writeAscii(inclusionProofPairs(inclusion))}`;
}

function parseShortLeaf(version: bigint, value: string): ShortLeaf {
  let fields: string[];
  if (version === 1n) {
    const [short, ...rest] = splitValue('leaf', value, 3);
    // The short checksum only ever served error messages; check its form, drop it.
    parseHexField('leaf', short!, SHORT_CHECKSUM_SIZE);
    fields = rest;
  } else {
    fields = splitValue('leaf', value, 2);
  }
  return {
    keyHash: asHash(parseHexField('leaf', fields[0]!, HASH_SIZE)),
    signature: asSignature(parseHexField('leaf', fields[1]!, SIGNATURE_SIZE)),
  };
}

/** Reads a version 2 (or 1) proof, strictly: sections, order and final newline as written above. */
export function parseSigsumProof(text: string): SigsumProof {
  // Each "\n\n" ends one section's last line and is the empty separator line;
  // a stray extra empty line leaves a section starting with "\n", which the
  // ASCII parser rejects.
  const parts = text.split('\n\n');
  const sections = parts.map((p, i) => (i < parts.length - 1 ? `${p}\n` : p));

  const header = parseAscii(sections[0]!, HEADER_FIELDS);
  const version = parseIntField('version', header.get('version')![0]!);
  if (version !== 1n && version !== 2n) throw new AsciiError(`unsupported proof version ${version}`);
  const logKeyHash = asHash(parseHexField('log', header.get('log')![0]!, HASH_SIZE));
  const leaf = parseShortLeaf(version, header.get('leaf')![0]!);

  if (sections.length < 2) throw new AsciiError('proof: missing tree head section');
  const treeHead = cosignedTreeHeadFrom(parseAscii(sections[1]!, COSIGNED_TREE_HEAD_KEYS));
  if (treeHead.size === 0) throw new AsciiError('proof: tree is empty');

  if (treeHead.size === 1) {
    if (sections.length !== 2) throw new AsciiError('proof: unexpected data after the tree head of a size-1 tree');
    return { logKeyHash, leaf, treeHead, inclusion: { leafIndex: 0, path: [] } };
  }
  if (sections.length !== 3) {
    throw new AsciiError(sections.length < 3 ? 'proof: missing inclusion proof section' : 'proof: too many sections');
  }
  const inclusion = inclusionProofFrom(parseAscii(sections[2]!, INCLUSION_PROOF_KEYS));
  return { logKeyHash, leaf, treeHead, inclusion };
}
