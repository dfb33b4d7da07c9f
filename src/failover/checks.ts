// The promotion and truncation checks as pure functions over what the I/O
// edge has read: a tree head from some source, the local tree, the sizes.
// Each returns a refusal (what is wrong, what to do) or undefined.
import { verifyTreeHeadSignature } from '../formats/checkpoint.js';
import type { SignedTreeHead, TreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import { emptyRoot } from '../tree/hash.js';
import type { Hash, PublicKey } from '../types.js';
import { RunbookRefusal } from './runbook.js';

/** The local tree, as the checks read it. */
export interface LocalTree {
  readonly size: number;
  /** Root of the first `size` leaves, 1 ≤ size ≤ this.size. */
  rootAt(size: number): Hash;
}

export function localRootAt(tree: LocalTree, size: number): Hash {
  return size === 0 ? emptyRoot() : tree.rootAt(size);
}

/**
 * A published head is safe to promote over when the log key signed it and the
 * local tree holds it: at least its size, and the same root at that size.
 * Otherwise the new primary would either lose published leaves (the log
 * would shrink) or publish a different tree (a fork).
 */
export function publishedHeadRefusal(source: string, head: SignedTreeHead, logKey: PublicKey, tree: LocalTree): RunbookRefusal | undefined {
  if (!verifyTreeHeadSignature(logKey, head)) {
    return new RunbookRefusal(
      `the tree head from ${source} (size ${head.size}) is not signed by the log key.`,
      'check that the source is this log (the old primary\'s sth file or public URL) and that log-pubkey-file is the log\'s public key; leave out a source that belongs to another log.',
    );
  }
  if (head.size > tree.size) {
    return new RunbookRefusal(
      `${source} shows a published tree head of size ${head.size}, but this node holds only ${tree.size} leaves: ` +
        `promoting it would lose the published leaves [${tree.size}, ${head.size}) and make the log shrink.`,
      'promote a node that holds every published leaf (compare the sizes of the secondaries), or let this node catch up from one ' +
        '(set its primary-url to that node\'s internal URL, start it, wait until it reaches the size, stop it) and run this command again.',
    );
  }
  const local = localRootAt(tree, head.size);
  if (!bytesEqual(local, head.rootHash)) {
    return new RunbookRefusal(
      `${source} shows root ${toHex(head.rootHash)} at size ${head.size}, but this node's root at that size is ${toHex(local)}: ` +
        'promoting it would fork the log.',
      'this database does not hold the log\'s tree; promote another secondary, and rebuild this one from an empty database.',
    );
  }
  return undefined;
}

/**
 * Another secondary must not hold more of the log than the node being
 * promoted (it would be the better choice, and its extra leaves would become
 * a fork), nor disagree with it (one of the two is corrupt).
 */
export function peerRefusal(peer: string, head: TreeHead, tree: LocalTree): RunbookRefusal | undefined {
  if (head.size > tree.size) {
    return new RunbookRefusal(
      `peer ${peer} holds ${head.size} leaves, more than this node's ${tree.size}.`,
      `promote ${peer} instead (the secondary with the largest tree), or let this node catch up from it ` +
        `(set primary-url to ${peer}, start this node, wait until it reaches size ${head.size}, stop it) and run this command again.`,
    );
  }
  const local = localRootAt(tree, head.size);
  if (!bytesEqual(local, head.rootHash)) {
    return new RunbookRefusal(
      `peer ${peer} has root ${toHex(head.rootHash)} at size ${head.size}, but this node's root at that size is ${toHex(local)}: ` +
        'the two copies of the log disagree.',
      `find out which of the two holds the log's tree (compare each with the published tree heads); if ${peer} is the broken one, ` +
        'leave it out of --peer and rebuild it from an empty database after the promotion.',
    );
  }
  return undefined;
}

/** A secondary may drop leaves, but never below a published head it has verified. */
export function truncationRefusal(toSize: number, localSize: number, publishedSize: number | undefined): RunbookRefusal | undefined {
  if (toSize > localSize) {
    return new RunbookRefusal(`--to-size ${toSize} is beyond the local tree of ${localSize} leaves.`, 'give a size no larger than the local tree.');
  }
  if (publishedSize === undefined) {
    return new RunbookRefusal(
      'this node has not verified any published tree head, so it cannot tell which of its leaves are published.',
      'rebuild it instead: stop it, move its database away, and start it with an empty one (it replicates everything again). ' +
        'Set [secondary] log-pubkey-file so that it keeps the published tree head from now on.',
    );
  }
  if (toSize < publishedSize) {
    return new RunbookRefusal(
      `--to-size ${toSize} is below the newest published tree head this node verified (size ${publishedSize}); published leaves are never discarded.`,
      `give a size of at least ${publishedSize}. If the upstream disagrees with this node below that size, the upstream is not serving the published log: ` +
        'check which node it is before changing anything here.',
    );
  }
  return undefined;
}
