// Pieces both roles share at startup: keys, the database and its mode, the
// internal token.
import { readFileSync } from 'node:fs';
import { signerFromSeed } from './crypto/index.js';
import { readPrivateKeyFile } from './crypto/keyfile.js';
import { ConfigError } from './errors.js';
import type { Config } from './config/config.js';
import { TreeStore } from './tree/store.js';
import type { Signer } from './types.js';

/**
 * A database is either a primary's (it sequences leaves) or a replica's
 * (leaves arrive preordered). The mode is recorded so that a secondary's
 * database is never used by a primary except through promote-secondary.
 */
export type TreeMode = 'sequencing' | 'replica';
export const TREE_MODE_KEY = 'tree-mode';

export function openTreeForRole(dbFile: string, want: TreeMode): TreeStore {
  // A running node is its database's only writer (the failover tools wait for it to stop).
  const store = TreeStore.open(dbFile, { soleWriter: true });
  const mode = store.getMeta(TREE_MODE_KEY);
  if (mode === undefined) {
    store.setMeta(TREE_MODE_KEY, want);
  } else if (mode !== want) {
    store.close();
    throw new ConfigError(
      want === 'sequencing'
        ? `${dbFile} is a secondary's database (replica mode); turn it into a primary with \`sigsum-log promote-secondary\``
        : `${dbFile} is a primary's database (sequencing mode); a secondary needs its own database`,
    );
  }
  return store;
}

export function loadSigner(config: Config): Signer {
  return signerFromSeed(readPrivateKeyFile(config.keyFile));
}

export function readInternalToken(config: Config): string | undefined {
  if (config.internalTokenFile === '') return undefined;
  const token = readFileSync(config.internalTokenFile, 'utf8').trim();
  if (token === '' || /\s/.test(token)) throw new ConfigError(`${config.internalTokenFile}: the token must be one non-empty word`);
  return token;
}
