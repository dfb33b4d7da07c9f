// What the log and witnesses sign (log.md §2.2.2–2.2.3). The log signs the
// checkpoint body directly with Ed25519 (no namespace/NUL prefix: the origin
// line is the domain separation); a witness signs "cosignature/v1\n",
// "time <t>\n" and then the same body, per C2SP tlog-cosignature.
import { ed25519Verify, keyHash } from '../crypto/index.js';
import { bytesEqual, toBase64, toHex } from '../hex.js';
import type { AsyncSigner, Hash, PublicKey, Signer } from '../types.js';
import { formatInt } from './ascii.js';
import type { Cosignature, SignedTreeHead, TreeHead } from './tree-head.js';

export const CHECKPOINT_ORIGIN_PREFIX = 'sigsum.org/v1/tree/';
export const COSIGNATURE_NAMESPACE = 'cosignature/v1';

const utf8 = new TextEncoder();

/** The checkpoint origin line: `sigsum.org/v1/tree/<lowercase hex key hash>`. */
export function logOrigin(logKeyHash: Hash): string {
  return CHECKPOINT_ORIGIN_PREFIX + toHex(logKeyHash);
}

/** origin, decimal size and base64 root hash, each newline-terminated. */
export function checkpointBody(logKeyHash: Hash, treeHead: TreeHead): string {
  return `${logOrigin(logKeyHash)}\n${formatInt(treeHead.size)}\n${toBase64(treeHead.rootHash)}\n`;
}

/** Signs with an in-memory key (tests, tools). Nodes sign through signTreeHeadWith. */
export function signTreeHead(signer: Signer, treeHead: TreeHead): SignedTreeHead {
  const body = checkpointBody(keyHash(signer.publicKey), treeHead);
  return { size: treeHead.size, rootHash: treeHead.rootHash, signature: signer.sign(utf8.encode(body)) };
}

/** Signs with the node's key, in memory or in an ssh-agent; rejects when the key cannot sign. */
export async function signTreeHeadWith(signer: AsyncSigner, treeHead: TreeHead): Promise<SignedTreeHead> {
  const body = checkpointBody(keyHash(signer.publicKey), treeHead);
  const signature = await signer.sign(utf8.encode(body));
  return { size: treeHead.size, rootHash: treeHead.rootHash, signature };
}

/**
 * signTreeHeadWith that remembers its last answer: a secondary is asked for
 * its signed head on every gate poll, and the head rarely changes between
 * polls. Ed25519 signatures are deterministic, so the bytes are the same
 * either way. Concurrent polls for the same head share one signing; a failed
 * signing is not remembered, so the next poll tries again.
 */
export function cachedTreeHeadSigner(signer: AsyncSigner): (treeHead: TreeHead) => Promise<SignedTreeHead> {
  let last: { size: number; rootHash: Hash; signed: Promise<SignedTreeHead> } | undefined;
  return (treeHead) => {
    if (last === undefined || last.size !== treeHead.size || !bytesEqual(last.rootHash, treeHead.rootHash)) {
      const entry = { size: treeHead.size, rootHash: treeHead.rootHash, signed: signTreeHeadWith(signer, treeHead) };
      last = entry;
      entry.signed.catch(() => {
        if (last === entry) last = undefined;
      });
    }
    return last.signed;
  };
}

export function verifyTreeHeadSignature(logPublicKey: PublicKey, sth: SignedTreeHead): boolean {
  if (!Number.isSafeInteger(sth.size) || sth.size < 0) return false;
  const body = checkpointBody(keyHash(logPublicKey), sth);
  return ed25519Verify(logPublicKey, utf8.encode(body), sth.signature);
}

/** The cosignature/v1 signed message for a Sigsum checkpoint. */
export function cosignatureMessage(logKeyHash: Hash, treeHead: TreeHead, timestamp: number): string {
  return `${COSIGNATURE_NAMESPACE}\ntime ${formatInt(timestamp)}\n${checkpointBody(logKeyHash, treeHead)}`;
}

export function cosignTreeHead(signer: Signer, logKeyHash: Hash, treeHead: TreeHead, timestamp: number): Cosignature {
  const message = cosignatureMessage(logKeyHash, treeHead, timestamp);
  return { keyHash: keyHash(signer.publicKey), timestamp, signature: signer.sign(utf8.encode(message)) };
}

/**
 * True if `cosig` is a valid cosignature by `witnessPublicKey` on the tree
 * head. A cosignature whose keyHash names a different key is false, so a
 * caller cannot credit one witness with another's cosignature.
 */
export function verifyCosignature(
  witnessPublicKey: PublicKey,
  logKeyHash: Hash,
  treeHead: TreeHead,
  cosig: Cosignature,
): boolean {
  if (!bytesEqual(cosig.keyHash, keyHash(witnessPublicKey))) return false;
  if (!Number.isSafeInteger(cosig.timestamp) || cosig.timestamp < 0) return false;
  const message = cosignatureMessage(logKeyHash, treeHead, cosig.timestamp);
  return ed25519Verify(witnessPublicKey, utf8.encode(message), cosig.signature);
}
