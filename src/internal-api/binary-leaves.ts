// A binary form of the internal get-leaves answer, between sigsum-log nodes:
// the leaves' 128-byte encodings (checksum ‖ signature ‖ key_hash) back to
// back, with no separators. A node asks for it with an Accept header and
// takes whatever the answer's content-type says, so a log-go peer (which
// ignores Accept and answers the ASCII form) works unchanged on either side.
// Why: during a catch-up the ASCII form (hex, ~270 bytes a leaf) cost more
// CPU to format on the serving node and to parse on the replica than the
// replica's own append (bench/replication.ts).
import { TREE_LEAF_SIZE } from '../formats/leaf.js';

export const BINARY_LEAVES_TYPE = 'application/x-sigsum-tree-leaves';

/** What a client sends: the binary form preferred, the ASCII form accepted. */
export const BINARY_LEAVES_ACCEPT = `${BINARY_LEAVES_TYPE}, text/plain;q=0.5`;

/** Whether an Accept header asks for the binary form. */
export function acceptsBinaryLeaves(accept: string | undefined): boolean {
  return accept !== undefined && accept.toLowerCase().includes(BINARY_LEAVES_TYPE);
}

/** Whether an answer's content-type is the binary form. */
export function isBinaryLeaves(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';', 1)[0]!.trim().toLowerCase() === BINARY_LEAVES_TYPE;
}

export function encodeBinaryLeaves(leaves: readonly Uint8Array[]): Buffer {
  return Buffer.concat(leaves, leaves.length * TREE_LEAF_SIZE);
}

/**
 * The leaves of a binary answer as 128-byte views of its buffer: between 1
 * and maxCount of them. Throws naming the problem otherwise.
 */
export function decodeBinaryLeaves(body: Buffer, maxCount: number): Uint8Array[] {
  if (body.length === 0) throw new Error('no leaves');
  if (body.length % TREE_LEAF_SIZE !== 0) throw new Error(`${body.length} bytes is not a whole number of ${TREE_LEAF_SIZE}-byte leaves`);
  const count = body.length / TREE_LEAF_SIZE;
  if (count > maxCount) throw new Error(`${count} leaves, more than the ${maxCount} asked for`);
  return Array.from({ length: count }, (_v, i) => body.subarray(i * TREE_LEAF_SIZE, (i + 1) * TREE_LEAF_SIZE));
}
