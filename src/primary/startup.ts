// Which tree head a primary starts from, with log-go's sth/startup-file rules,
// and the refusals that keep a restored-from-backup or tampered node from
// forking the log.
import { ConfigError } from '../errors.js';
import { formatCosignedTreeHead, parseCosignedTreeHead } from '../formats/messages.js';
import { signTreeHeadWith, verifyTreeHeadSignature } from '../formats/checkpoint.js';
import type { CosignedTreeHead, SignedTreeHead, TreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import type { Logger } from '../log.js';
import type { SthFile } from '../storage/sth-file.js';
import { emptyRoot } from '../tree/hash.js';
import type { AsyncSigner, Hash, PublicKey } from '../types.js';

/** The tree and metadata reads startup needs. */
export interface StartupTree {
  size(): number;
  rootAt(size: number): Hash;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
}

/** Meta key: the published head with its cosignatures (the sth file holds it without them). */
export const COSIGNED_META_KEY = 'published-cosigned-tree-head';

/**
 * What startup will serve, decided without signing or writing anything: the
 * head in the sth file (checked against the tree and the log key), or a first
 * head to sign because the startup file asks for one. Signing waits until
 * every other startup check (config files, the "not forked" check) passed.
 */
export type StartupPlan =
  | { kind: 'resume'; head: CosignedTreeHead }
  | { kind: 'first'; mode: 'empty' | 'local-tree'; treeHead: TreeHead };

/** Refuses (ConfigError) on anything inconsistent; never signs or writes. */
export function planStartup(sthFile: SthFile, tree: StartupTree, logPublicKey: PublicKey): StartupPlan {
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
    return { kind: 'first', mode, treeHead: { size, rootHash } };
  }
  if (!haveSth) {
    throw new ConfigError(
      `no sth file ${sthFile.path} and no startup file; for a new log run \`sigsum-log init --config FILE\` (writes ${sthFile.startupPath} with startup=empty)`,
    );
  }
  const sth = sthFile.load();
  if (!verifyTreeHeadSignature(logPublicKey, sth)) {
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
  return { kind: 'resume', head: { ...sth, cosignatures: storedCosignatures(tree, sth) } };
}

/**
 * Carries out the plan: for a first head, signs it, stores it, and only then
 * removes the startup file. A signing failure leaves both files as they were.
 */
export async function startupTreeHead(plan: StartupPlan, sthFile: SthFile, signer: AsyncSigner, log: Logger): Promise<CosignedTreeHead> {
  if (plan.kind === 'resume') return plan.head;
  let sth: SignedTreeHead;
  try {
    sth = await signTreeHeadWith(signer, plan.treeHead);
  } catch (err) {
    // The agent went away after the start-up check: a refusal like any other, files untouched.
    throw new ConfigError(`cannot sign the first tree head (startup=${plan.mode}); ${sthFile.startupPath} is kept: ${(err as Error)?.message ?? String(err)}`);
  }
  sthFile.store(sth); // crash-safe point: from here the sth file is the reference
  sthFile.removeStartup();
  log.info(`startup=${plan.mode}: signed and stored the first tree head, size ${sth.size}`);
  return { ...sth, cosignatures: [] };
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
