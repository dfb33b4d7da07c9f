// Test material for the witness tests: a small in-memory Merkle tree (roots
// and consistency proofs from the tree module's own algorithms), signed
// checkpoints, add-checkpoint bodies, and a logger that keeps its lines.
import { randomBytes } from 'node:crypto';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { signedCheckpointNote } from '../../src/formats/signed-note.js';
import type { Logger } from '../../src/log.js';
import { leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import { consistencyProof } from '../../src/tree/proof.js';
import type { Hash, Signer } from '../../src/types.js';
import { formatAddCheckpointRequest } from '../../src/witness/protocol.js';

export interface MemoryTree {
  root(size: number): Hash;
  proof(oldSize: number, newSize: number): Hash[];
}

export function memoryTree(n: number): MemoryTree {
  const leaves = Array.from({ length: n }, () => leafHash(randomBytes(128)));
  const reader = {
    node: (level: number, index: number): Hash => {
      const width = 2 ** level;
      return rootFromLeafHashes(leaves.slice(index * width, (index + 1) * width));
    },
  };
  return {
    root: (size) => rootFromLeafHashes(leaves.slice(0, size)),
    proof: (oldSize, newSize) => consistencyProof(reader, oldSize, newSize),
  };
}

/** The log's signed checkpoint note for the tree at `size`. */
export function checkpoint(log: Signer, tree: MemoryTree, size: number): string {
  return signedCheckpointNote(log.publicKey, signTreeHead(log, { size, rootHash: tree.root(size) }));
}

/** An add-checkpoint body with a correct proof from oldSize. */
export function addCheckpointBody(log: Signer, tree: MemoryTree, oldSize: number, size: number): string {
  const proof = oldSize === 0 || oldSize === size ? [] : tree.proof(oldSize, size);
  return formatAddCheckpointRequest({ oldSize, proof, checkpoint: checkpoint(log, tree, size) });
}

export interface CapturingLogger extends Logger {
  lines: string[];
}

export function capturingLogger(): CapturingLogger {
  const lines: string[] = [];
  const add = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return { lines, debug: add('DEBUG'), info: add('INFO'), warning: add('WARNING'), error: add('ERROR') };
}
