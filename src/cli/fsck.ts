// sigsum-log fsck: the command line of src/fsck/fsck.ts. Exit 0 intact, 1 a
// check failed (or repair refused), 2 usage or configuration error.
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config.js';
import { publicKeyFromSeed } from '../crypto/index.js';
import { looksLikePem, readKeyFileText, readPrivateKeyFile, readPublicKeyFile } from '../crypto/keyfile.js';
import { ConfigError } from '../errors.js';
import { parsePolicy, type Policy } from '../formats/policy.js';
import { runFsck, type FsckOptions, type FsckOutput } from '../fsck/fsck.js';
import type { PublicKey } from '../types.js';
import { usageErrorsExit2 } from './failover.js';
import { createProgress, type Progress } from './progress.js';

interface FsckFlags {
  config?: string;
  dbFile?: string;
  sthFile?: string;
  logPubkeyFile?: string;
  policyFile?: string;
  repair?: boolean;
}

/** A primary's config, else a secondary's; the error of the primary reading when neither loads. */
function loadAnyConfig(file: string): Config {
  try {
    return loadConfig({ role: 'primary', configFile: file, flags: {} });
  } catch (asPrimary) {
    if (!(asPrimary instanceof ConfigError)) throw asPrimary;
    try {
      return loadConfig({ role: 'secondary', configFile: file, flags: {} });
    } catch {
      throw asPrimary;
    }
  }
}

function readKey(file: string, what: string, read: (f: string) => PublicKey): PublicKey {
  try {
    return read(file);
  } catch (err) {
    throw new ConfigError(`${what} ${file}: ${(err as Error).message}`);
  }
}

/** The public key of a primary's key-file: a private key file, or a public one (signing through ssh-agent). */
function logKeyOf(file: string): PublicKey {
  return looksLikePem(readKeyFileText(file)) ? publicKeyFromSeed(readPrivateKeyFile(file)) : readPublicKeyFile(file);
}

function readPolicy(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read policy file ${file}: ${(err as Error).message}`);
  }
  try {
    return parsePolicy(text);
  } catch (err) {
    throw new ConfigError(`policy file ${file}: ${(err as Error).message}`);
  }
}

/** What to check, from the flags and the config file (flags win). */
export function fsckOptions(flags: FsckFlags): FsckOptions {
  if (flags.config === undefined && flags.dbFile === undefined) throw new ConfigError('give --config FILE or --db-file FILE');
  const config = flags.config === undefined ? undefined : loadAnyConfig(flags.config);
  const dbFile = flags.dbFile ?? (config as Config).dbFile;
  let sthFile = flags.sthFile;
  if (sthFile !== undefined && !existsSync(sthFile)) throw new ConfigError(`there is no sth file at ${sthFile}`);
  if (sthFile === undefined && config !== undefined && config.primary.sthFile !== '' && config.role === 'primary') sthFile = config.primary.sthFile;
  let logPublicKey: PublicKey | undefined;
  if (flags.logPubkeyFile !== undefined) logPublicKey = readKey(flags.logPubkeyFile, 'log public key file', readPublicKeyFile);
  else if (config?.role === 'primary') logPublicKey = readKey(config.keyFile, 'key-file', logKeyOf);
  else if (config !== undefined && config.secondary.logPubkeyFile !== '') logPublicKey = readKey(config.secondary.logPubkeyFile, '[secondary] log-pubkey-file', readPublicKeyFile);
  const policyFile = flags.policyFile ?? (config !== undefined && config.primary.policyFile !== '' ? config.primary.policyFile : undefined);
  return {
    dbFile,
    sthFile,
    logPublicKey,
    policy: policyFile === undefined ? undefined : readPolicy(policyFile),
    repair: flags.repair === true,
  };
}

function terminalOutput(): FsckOutput {
  let progress: Progress | undefined;
  return {
    line: (text) => void process.stdout.write(`${text}\n`),
    progress: (done, total) => {
      progress ??= createProgress({ label: 'fsck', unit: 'leaves', total });
      progress.update(done, total);
    },
    progressDone: () => {
      progress?.finish();
      progress = undefined;
    },
  };
}

export function registerFsckCommand(program: Command): void {
  usageErrorsExit2(program.command('fsck'))
    .description(
      "check a node's database: every leaf hash, stored hash and leaf-hash index entry, the sth file, the stored cosigned head against the policy, and the meta records; read-only and safe on a running node. With --repair (node stopped): rebuild the stored hashes and the leaf-hash index from the leaves",
    )
    .option('--config <file>', "the node's config file (primary or secondary): its db-file, sth-file, log key and policy-file")
    .option('--db-file <file>', 'the database to check (instead of, or overriding, the config\'s)')
    .option('--sth-file <file>', 'an sth file to check against the tree (needs the log key)')
    .option('--log-pubkey-file <file>', "the log's public key (default: from the config's key-file, or [secondary] log-pubkey-file)")
    .option('--policy-file <file>', "check the stored cosigned head's cosignatures against this policy (default: [primary] policy-file)")
    .option('--repair', 'stopped node only: rebuild everything derivable from the leaves (never a leaf), then check again')
    .action((flags: FsckFlags) => {
      process.exitCode = runFsck(fsckOptions(flags), terminalOutput());
    });
}
