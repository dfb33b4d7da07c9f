// Pieces both roles share at startup: keys, the database and its lifecycle state, the
// internal token.
import { readFileSync } from 'node:fs';
import { loadSigningKey, type LoadedSigner } from './crypto/signing-key.js';
import { ConfigError } from './errors.js';
import type { Config } from './config/config.js';
import { TreeStore } from './tree/store.js';
import type { Hash, PublicKey } from './types.js';
import { initialState, LIFECYCLE_KEY, LifecycleError, parseLifecycleState, runRefusal, type LifecycleState, type NodeKind } from './lifecycle.js';
import { parsePolicy, type Policy } from './formats/policy.js';
import { toHex } from './hex.js';

/**
 * How a node uses its database: a primary sequences leaves, a replica gets
 * them preordered. The database records its lifecycle state (src/lifecycle.ts)
 * so that a secondary's database is never used by a primary except through
 * promote-secondary, and a frozen primary sequences nothing.
 */
export type TreeMode = 'sequencing' | 'replica';

/** The meta record of the lifecycle state (its historic name). */
export const TREE_MODE_KEY = LIFECYCLE_KEY;

/** Opens the tree for a node of this mode; a ConfigError when its lifecycle state does not allow it. */
export function openTreeForRole(dbFile: string, want: TreeMode): TreeStore {
  return openTreeForNode(dbFile, want === 'sequencing' ? 'primary' : 'replica').tree;
}

/**
 * Opens the tree as its running node's (sole writer) and returns its
 * lifecycle state, recording the initial state in a new database.
 */
export function openTreeForNode(dbFile: string, kind: NodeKind): { tree: TreeStore; state: LifecycleState } {
  // A running node is its database's only writer (the failover tools wait for it to stop).
  const tree = TreeStore.open(dbFile, { soleWriter: true, checkpointInBackground: true });
  try {
    let state = parseLifecycleState(tree.getMeta(LIFECYCLE_KEY));
    if (state === undefined) {
      state = initialState(kind);
      tree.setMeta(LIFECYCLE_KEY, state);
    }
    const refusal = runRefusal(kind, state);
    if (refusal !== undefined) throw new ConfigError(`${dbFile}: ${refusal}`);
    return { tree, state };
  } catch (err) {
    tree.close();
    if (err instanceof LifecycleError) throw new ConfigError(`${dbFile}: ${err.message}`);
    throw err;
  }
}

/** The database's lifecycle state; undefined when no node has run on it. Throws LifecycleError for an unknown value. */
export function readLifecycleState(tree: Pick<TreeStore, 'getMeta'>): LifecycleState | undefined {
  return parseLifecycleState(tree.getMeta(LIFECYCLE_KEY));
}

/** The node's key: a private key file, or a public key file whose key an ssh-agent holds. */
export function loadSigner(config: Config): Promise<LoadedSigner> {
  return loadSigningKey(config.keyFile, 'key-file');
}

export function readInternalToken(config: Config): string | undefined {
  if (config.internalTokenFile === '') return undefined;
  const token = readFileSync(config.internalTokenFile, 'utf8').trim();
  if (token === '' || /\s/.test(token)) throw new ConfigError(`${config.internalTokenFile}: the token must be one non-empty word`);
  return token;
}

/**
 * The witnesses' public keys by key hash, from a Sigsum policy file (empty
 * path: none), for the cosignature lines of the tlog-tiles checkpoint: a
 * cosignature names its witness only by key hash, a note line needs the key.
 */
export function witnessKeysFromPolicy(file: string): (witnessKeyHash: Hash) => PublicKey | undefined {
  if (file === '') return () => undefined;
  let policy: Policy;
  try {
    policy = parsePolicy(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`policy-file ${file}: ${(err as Error).message}`);
  }
  const byHash = new Map(policy.witnesses.map((w) => [toHex(w.keyHash), w.publicKey]));
  return (hash) => byHash.get(toHex(hash));
}
