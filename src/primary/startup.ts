// Which tree head a primary starts from, with log-go's sth/startup-file rules,
// and the refusals that keep a restored-from-backup or tampered node from
// forking the log.
import { ConfigError } from '../errors.js';
import { formatCosignedTreeHead, parseCosignedTreeHead } from '../formats/messages.js';
import { signTreeHead, verifyTreeHeadSignature } from '../formats/checkpoint.js';
import type { CosignedTreeHead, SignedTreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import type { Logger } from '../log.js';
import type { SthFile } from '../storage/sth-file.js';
import { emptyRoot } from '../tree/hash.js';
import type { Hash, Signer } from '../types.js';

/** The tree and metadata reads startup needs. */
export interface StartupTree {
  size(): number;
  rootAt(size: number): Hash;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
}

const COSIGNED_META_KEY = 'published-cosigned-tree-head';

/**
 * Returns the head to serve at start. Signs and stores a first head when the
 * startup file asks for one; refuses (ConfigError) on anything inconsistent.
 */
export function startupTreeHead(sthFile: SthFile, tree: StartupTree, signer: Signer, log: Logger): CosignedTreeHead {
  const mode = sthFile.readStartup();
  const haveSth = sthFile.exists();
  if (mode !== undefined && haveSth) {
    throw new ConfigError(
      `both ${sthFile.path} and ${sthFile.startupPath} exist; if the sth file is the log's latest signed tree head, remove the startup file`,
    );
  }
  if (mode !== undefined) {
    const size = mode === 'empty' ? 0 : tree.size();
    const rootHash = size === 0 ? emptyRoot() : tree.rootAt(size);
    const sth = signTreeHead(signer, { size, rootHash });
    sthFile.store(sth); // crash-safe point: from here the sth file is the reference
    sthFile.removeStartup();
    log.info(`startup=${mode}: signed and stored the first tree head, size ${size}`);
    return { ...sth, cosignatures: [] };
  }
  if (!haveSth) {
    throw new ConfigError(
      `no sth file ${sthFile.path} and no startup file; for a new log run \`sigsum-log init --config FILE\` (writes ${sthFile.startupPath} with startup=empty)`,
    );
  }
  const sth = sthFile.load();
  if (!verifyTreeHeadSignature(signer.publicKey, sth)) {
    throw new ConfigError(`the signature in ${sthFile.path} does not verify with the log key in key-file`);
  }
  const localSize = tree.size();
  if (sth.size > localSize) {
    throw new ConfigError(
      `${sthFile.path} has size ${sth.size} but the local tree has only ${localSize} leaves: published leaves are missing (an old backup?); starting would fork the log`,
    );
  }
  const localRoot = sth.size === 0 ? emptyRoot() : tree.rootAt(sth.size);
  if (!bytesEqual(localRoot, sth.rootHash)) {
    throw new ConfigError(
      `the local tree's root at size ${sth.size} (${toHex(localRoot)}) differs from ${sthFile.path} (${toHex(sth.rootHash)}): the database does not hold this log`,
    );
  }
  return { ...sth, cosignatures: storedCosignatures(tree, sth) };
}

/** Cosignatures kept in the database for the head in the sth file, if they belong to it. */
function storedCosignatures(tree: StartupTree, sth: SignedTreeHead): CosignedTreeHead['cosignatures'] {
  const text = tree.getMeta(COSIGNED_META_KEY);
  if (text === undefined) return [];
  try {
    const stored = parseCosignedTreeHead(text);
    return stored.size === sth.size && bytesEqual(stored.signature, sth.signature) ? stored.cosignatures : [];
  } catch {
    return [];
  }
}

/**
 * Makes a head durable: the sth file first (log-go compatible: size, root,
 * signature), then the full cosigned head in the database. Durable once it returns.
 */
export function persistPublishedHead(sthFile: SthFile, tree: StartupTree, head: CosignedTreeHead): void {
  sthFile.store(head);
  tree.setMeta(COSIGNED_META_KEY, formatCosignedTreeHead(head));
}
