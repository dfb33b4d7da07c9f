// promote-secondary: turn a stopped secondary into the log's primary, the
// checked and resumable version of log-go's manual procedure (doc/failover.md).
//
// Every check runs before anything is written, and --dry-run stops there.
// The writes are ordered so that an interruption anywhere leaves a state the
// next run completes: the primary config and the startup file first (inert
// while the database is a replica's: no primary opens a replica database),
// and the database's switch to appending state last, as the commit point.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, type Config } from '../config/config.js';
import { keyHash } from '../crypto/index.js';
import { readPublicKeyFile } from '../crypto/keyfile.js';
import { loadSigningKey } from '../crypto/signing-key.js';
import { ConfigError } from '../errors.js';
import type { SignedTreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import { LIFECYCLE_KEY, LifecycleError } from '../lifecycle.js';
import { readInternalToken, readLifecycleState } from '../node-common.js';
import { PUBLISHED_TREE_HEAD_KEY, VERIFIED_SIZE_KEY } from '../replication/replicator.js';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { SthFile } from '../storage/sth-file.js';
import { TreeIntegrityError, type TreeStore } from '../tree/store.js';
import type { PublicKey } from '../types.js';
import { peerRefusal, publishedHeadRefusal, type LocalTree } from './checks.js';
import { defaultPrimaryConfigPath, defaultSthPath, primaryConfigText, type SecondaryEntry } from './primary-config.js';
import { Runbook, RunbookRefusal, type LineWriter } from './runbook.js';
import { fetchPeerHead, isUnreachable, parseHead, readPublishedHead } from './sources.js';
import { openStoppedNodeDatabase } from './stopped-node-db.js';

/** Meta key: the local size when promote-secondary switched this database to appending state. */
export const PROMOTED_AT_SIZE_KEY = 'promoted-at-size';

export interface PromoteOptions {
  /** The secondary's config file. */
  configFile: string;
  /** The log's private signing key, or its public key file when an ssh-agent holds the key. */
  logKeyFile: string;
  /** Files (sth format, or saved get-tree-head answers) and URLs of the old primary's public API. */
  publishedHeads: readonly string[];
  /** Other secondaries' internal base URLs. */
  peers: readonly string[];
  /** Secondaries of the new primary, for its config. */
  secondaries: readonly SecondaryEntry[];
  /** Default: [primary] sth-file of the secondary's config if set, else next to the database. */
  sthFile?: string | undefined;
  /** Default: next to the secondary's config, `<name>-primary.toml`. */
  primaryConfigFile?: string | undefined;
  dryRun: boolean;
}

type DatabaseState = { kind: 'replica' } | { kind: 'promoted'; atSize: number };

/** Runs the runbook; throws RunbookRefusal (already printed) at the first failed check. */
export async function promoteSecondary(opts: PromoteOptions, write: LineWriter): Promise<void> {
  const config = loadConfig({ role: 'secondary', configFile: opts.configFile, flags: {}, requirePrimaryUrl: false }); // an import target has no upstream
  const sthFile = new SthFile(resolve(opts.sthFile ?? (config.primary.sthFile !== '' ? config.primary.sthFile : defaultSthPath(config.dbFile))));
  const primaryConfigPath = resolve(opts.primaryConfigFile ?? defaultPrimaryConfigPath(opts.configFile));
  const logKeyFile = resolve(opts.logKeyFile);
  const book = new Runbook(write);
  book.say(`promote-secondary: turning the secondary with database ${config.dbFile} into this log's primary`);
  if (opts.dryRun) book.say('(dry run: every check runs, nothing is changed)');

  const { store, state } = await book.step('The secondary is stopped', (note) => {
    const opened = openStoppedNodeDatabase(config.dbFile);
    try {
      const found = databaseState(opened, config.dbFile);
      note(`ok: no running node has ${config.dbFile} open; this command holds it until it ends`);
      return { store: opened, state: found };
    } catch (err) {
      opened.close();
      throw err;
    }
  });
  try {
    const tree = await book.step('The local tree is intact', (note) => checkIntegrity(store, state, note));
    const logKey = await book.step('The log key', (note) => checkLogKey(config, logKeyFile, note));
    const outside = await book.step('Published tree heads', (note) => checkPublishedHeads(store, sthFile, opts.publishedHeads, logKey, tree, config.timeoutMs, note));
    await book.step('Peers (other secondaries)', async (note) => {
      const answered = await checkPeers(opts.peers, readInternalToken(config), tree, config.timeoutMs, note);
      if (answered === 0 && outside === 0) warnOwnRecordOnly(note);
    });
    const configText = primaryConfigText({
      secondaryConfigPath: opts.configFile,
      secondaryConfigText: readFileSync(opts.configFile, 'utf8'),
      logKeyFile,
      sthFile: sthFile.path,
      secondaries: opts.secondaries.map((s) => ({ url: s.url, pubkeyFile: resolve(s.pubkeyFile) })),
    });
    const primaryConfig = await book.step(
      opts.dryRun ? 'Switch to appending state (dry run: what would be done)' : 'Switch to appending state',
      (note) => switchToPrimary({ store, state, size: tree.size, sthFile, primaryConfigPath, configText, dryRun: opts.dryRun }, note),
    );
    await book.step('What remains by hand', (note) => printManualSteps(config, primaryConfig, primaryConfigPath, tree.size, opts.dryRun, note));
  } finally {
    store.close();
  }
}

function databaseState(store: TreeStore, dbFile: string): DatabaseState {
  let state;
  try {
    state = readLifecycleState(store);
  } catch (err) {
    if (!(err instanceof LifecycleError)) throw err;
    throw new RunbookRefusal(`${dbFile}: ${err.message}.`, 'run `sigsum-log fsck` on it; give the config file of the secondary to promote.');
  }
  const promotedAt = store.getMeta(PROMOTED_AT_SIZE_KEY);
  if (state === 'replica') return { kind: 'replica' };
  if (state === 'appending' && promotedAt !== undefined) return { kind: 'promoted', atSize: Number(promotedAt) };
  throw new RunbookRefusal(
    state === undefined
      ? `${dbFile} has no lifecycle state: no node has run on it.`
      : `${dbFile} is a primary's database (lifecycle state ${state}), not a secondary's.`,
    'give the config file of the secondary to promote.',
  );
}

function checkIntegrity(store: TreeStore, state: DatabaseState, note: LineWriter): LocalTree {
  note('recomputing every stored hash from the stored leaves (time grows with the tree)');
  let result: ReturnType<TreeStore['verifyIntegrity']>;
  try {
    result = store.verifyIntegrity();
  } catch (err) {
    if (!(err instanceof TreeIntegrityError)) throw err;
    throw new RunbookRefusal(
      `the local tree is damaged: ${err.message}.`,
      'do not promote this node; promote another secondary, and rebuild this one from an empty database.',
    );
  }
  const verified = store.getMeta(VERIFIED_SIZE_KEY);
  note(`ok: ${result.size} leaves, no gaps, root ${toHex(result.root)}` + (verified === undefined ? '' : `; compared with the old primary's root up to size ${verified}`));
  if (state.kind === 'promoted') {
    note(`an earlier run already switched this database to appending state at size ${state.atSize}; checking everything again`);
  }
  return { size: result.size, rootAt: (size) => store.rootAt(size) };
}

async function readAsync<T>(what: () => Promise<T>, remedy: string): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof ConfigError) throw new RunbookRefusal(`${err.message}.`, remedy);
    throw err;
  }
}

async function checkLogKey(config: Config, logKeyFile: string, note: LineWriter): Promise<PublicKey> {
  const pubFile = config.secondary.logPubkeyFile;
  if (pubFile === '') {
    throw new RunbookRefusal(
      'the secondary\'s config has no [secondary] log-pubkey-file, so nothing says which log this node holds.',
      'set log-pubkey-file to the log\'s public key (the key that verifies its published tree heads) in the config file, and run this command again.',
    );
  }
  const read = <T>(what: () => T, remedy: string): T => {
    try {
      return what();
    } catch (err) {
      if (err instanceof ConfigError) throw new RunbookRefusal(`${err.message}.`, remedy);
      throw err;
    }
  };
  const logKey = read(() => readPublicKeyFile(pubFile), 'fix [secondary] log-pubkey-file in the config file.');
  // A public key file: the new primary signs through the ssh-agent, which must hold the key now.
  const signer = await readAsync(
    () => loadSigningKey(logKeyFile, '--log-key-file'),
    'give the log\'s private key (unencrypted OpenSSH Ed25519, mode 0600) with --log-key-file, or its public key file with the key loaded in the ssh-agent at SSH_AUTH_SOCK.',
  );
  const signingKey = signer.publicKey;
  if (!bytesEqual(signingKey, logKey)) {
    throw new RunbookRefusal(
      `the key in ${logKeyFile} (key hash ${toHex(keyHash(signingKey))}) is not the log's key in ${pubFile} (key hash ${toHex(keyHash(logKey))}).`,
      'give the backup of the log\'s signing key. Never a new key: the log is identified by its key, and a new one makes a new log.',
    );
  }
  note(`ok: ${logKeyFile} is the log's signing key (key hash ${toHex(keyHash(logKey))}, ${signer.where})`);
  return logKey;
}

async function checkPublishedHeads(
  store: TreeStore,
  sthFile: SthFile,
  specs: readonly string[],
  logKey: PublicKey,
  tree: LocalTree,
  timeoutMs: number,
  note: LineWriter,
): Promise<number> {
  let newest: { source: string; size: number } | undefined;
  let outside = 0;
  const check = (source: string, head: SignedTreeHead): void => {
    const refusal = publishedHeadRefusal(source, head, logKey, tree);
    if (refusal !== undefined) throw refusal;
    note(`${source}: size ${head.size}, signed by the log key, same root here: ok`);
    if (newest === undefined || head.size > newest.size) newest = { source, size: head.size };
  };
  const record = store.getMeta(PUBLISHED_TREE_HEAD_KEY);
  const recordName = 'this node\'s record of the published tree head';
  if (record === undefined) note(`${recordName}: none (it has not verified one)`);
  else check(recordName, parseHead(recordName, record));
  // Present only after an earlier run, once the new primary has started: it
  // is then the newest published head.
  if (sthFile.exists()) {
    const name = `the sth file ${sthFile.path}`;
    check(name, parseHead(name, readFileSync(sthFile.path, 'utf8')));
  }
  for (const spec of specs) {
    const found = await readPublishedHead(spec, timeoutMs);
    if (isUnreachable(found)) note(`${spec}: not reachable, skipped (${found.unreachable})`);
    else {
      check(spec, found);
      outside++;
    }
  }
  if (newest === undefined) {
    throw new RunbookRefusal(
      'no published tree head to compare with, so nothing shows that this node holds every published leaf.',
      'give --published-head: the old primary\'s sth file, its public URL if it still answers, or a tree head saved from ' +
        'get-tree-head (a monitor\'s or witness\'s latest) in a file.',
    );
  }
  note(`ok: the newest published tree head has size ${newest.size} (${newest.source}); this node's tree (size ${tree.size}) extends it`);
  return outside;
}

/**
 * Neither a published head from outside this node nor a peer: the only
 * evidence is what this node itself last verified, which misses anything the
 * old primary published later. Not a refusal (the old primary may be gone
 * for good), but the operator must know, and how to do better.
 */
function warnOwnRecordOnly(note: LineWriter): void {
  note(
    'WARNING: no --published-head could be read and no --peer answered, so these checks rely only on this node\'s own record ' +
      'of the last published tree head. If the old primary published a larger head after this node last verified one, ' +
      'promoting this node forks the log.',
  );
  note(
    'to supply one: --published-head FILE|URL with the old primary\'s sth file, its public URL if it still answers, or a tree head ' +
      'saved from get-tree-head (a monitor\'s or witness\'s latest); and --peer URL with the internal URL of every other secondary.',
  );
}

/** Returns how many peers answered. */
async function checkPeers(peers: readonly string[], token: string | undefined, tree: LocalTree, timeoutMs: number, note: LineWriter): Promise<number> {
  if (peers.length === 0) {
    note('no --peer given: make sure no other secondary holds more of the log than this node (compare their get-tree-head-unsigned)');
    return 0;
  }
  let answered = 0;
  for (const peer of peers) {
    const head = await fetchPeerHead(peer, token, timeoutMs);
    if (isUnreachable(head)) {
      note(`${peer}: not reachable, skipped (${head.unreachable}); if it is only down, compare its size before it comes back`);
      continue;
    }
    const refusal = peerRefusal(peer, head, tree);
    if (refusal !== undefined) throw refusal;
    note(`${peer}: size ${head.size} ≤ ${tree.size}, same root at that size: ok`);
    answered++;
  }
  return answered;
}

interface SwitchPlan {
  store: TreeStore;
  state: DatabaseState;
  size: number;
  sthFile: SthFile;
  primaryConfigPath: string;
  configText: string;
  dryRun: boolean;
}

/** Returns the primary config that is (or would be) in place. */
function switchToPrimary(plan: SwitchPlan, note: LineWriter): Config {
  const { store, state, sthFile, dryRun } = plan;
  const would = (done: string, planned: string): string => (dryRun ? `would ${planned}` : done);
  if (state.kind === 'replica' && sthFile.exists()) {
    throw new RunbookRefusal(
      `${sthFile.path} already exists, but this database was never promoted: that file is not this node's.`,
      'move it away (it may be an old primary\'s), or choose another path with --sth-file, and run this command again.',
    );
  }
  let primaryConfig = validatePrimaryConfig(plan.configText);

  // 1. The primary config. Inert on its own: a primary refuses a replica database.
  if (existsSync(plan.primaryConfigPath)) {
    const current = readFileSync(plan.primaryConfigPath, 'utf8');
    if (current === plan.configText) note(`${plan.primaryConfigPath}: already written`);
    else {
      note(`${plan.primaryConfigPath}: exists with other content (edited?); kept. Remove it and run again to regenerate it.`);
      primaryConfig = loadConfig({ role: 'primary', configFile: plan.primaryConfigPath, flags: {} });
      if (resolve(primaryConfig.primary.sthFile) !== sthFile.path) {
        throw new RunbookRefusal(
          `${plan.primaryConfigPath} names the sth file ${primaryConfig.primary.sthFile}, not ${sthFile.path}.`,
          `run again with --sth-file ${primaryConfig.primary.sthFile}, or remove ${plan.primaryConfigPath} to regenerate it.`,
        );
      }
    }
  } else {
    if (!dryRun) writeFileAtomic(plan.primaryConfigPath, plan.configText); // crash-safe point: complete or absent
    note(would(`wrote the primary config ${plan.primaryConfigPath}`, `write the primary config ${plan.primaryConfigPath}`));
  }

  // 2. The startup file: the new primary's first tree head is its local tree.
  // Not once the primary has stored its own sth file: both files present is
  // a startup error.
  if (sthFile.exists()) {
    note(`${sthFile.path} exists: the new primary has already started and published; no startup file needed`);
  } else if (sthFile.readStartup() === 'local-tree') {
    note(`${sthFile.startupPath}: already says startup=local-tree`);
  } else {
    if (!dryRun) sthFile.writeStartup('local-tree'); // crash-safe point: complete or absent
    note(would(`wrote ${sthFile.startupPath} (startup=local-tree)`, `write ${sthFile.startupPath} (startup=local-tree)`));
  }

  // 3. The commit point: from here on no secondary runs on this database and
  // a primary does. Mode and marker change in one transaction.
  if (state.kind === 'promoted') {
    note(`the database is already in appending state (switched at size ${state.atSize})`);
    return primaryConfig;
  }
  if (!dryRun) {
    store.db
      .transaction(() => {
        store.setMeta(LIFECYCLE_KEY, 'appending');
        store.setMeta(PROMOTED_AT_SIZE_KEY, String(plan.size));
      })
      .immediate(); // crash-safe point: promoted, or still a replica
  }
  note(would(`switched the database from replica to appending state at size ${plan.size}`, `switch the database from replica to appending state at size ${plan.size}`));
  return primaryConfig;
}

/** Loads the new config as a primary's, from a scratch copy, so a bad one is never written. */
function validatePrimaryConfig(text: string): Config {
  const scratch = join(tmpdir(), `sigsum-log-promote-${process.pid}.toml`);
  writeFileAtomic(scratch, text);
  try {
    return loadConfig({ role: 'primary', configFile: scratch, flags: {} });
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new RunbookRefusal(`the primary config would be invalid: ${err.message}.`, 'fix the flags (or the [primary] table of the secondary\'s config) and run again.');
    }
    throw err;
  } finally {
    rmSync(scratch, { force: true });
  }
}

function printManualSteps(config: Config, primary: Config, primaryConfigPath: string, size: number, dryRun: boolean, note: LineWriter): void {
  if (dryRun) note('after a run without --dry-run:');
  const secondaries = primary.primary.secondaryUrls;
  const internalUrl = `http://${config.internalEndpoint}${config.urlPrefix}`;
  const lines = [
    secondaries.length === 0
      ? `Fill in [primary] secondary-url and secondary-pubkey-file in ${primaryConfigPath}: without a secondary the primary publishes leaves no other node holds.`
      : `Check ${primaryConfigPath}; its secondaries: ${secondaries.join(', ')}.`,
    `Start the new primary: sigsum-log --role primary --config ${primaryConfigPath}` +
      ` (its first tree head is its local tree, size ${size}; interval in that file is now the rotation interval).`,
    `Point DNS / the load balancer for the log's public URL at this node's public endpoint (${config.externalEndpoint}${config.urlPrefix}).`,
    'Retire the old primary: never start it again on its database. Re-seed it as a secondary with an empty database if it is wanted.',
    `Re-point every other secondary: set primary-url = "${internalUrl}" and restart it. One that reports it has diverged holds leaves ` +
      'the old primary never published: stop it and run `sigsum-log secondary-truncate --config FILE --to-size N` with the N its log line names.',
    'Add a new secondary if the log now has fewer than before, and list it in secondary-url.',
  ];
  lines.forEach((line, i) => note(`${String.fromCharCode(97 + i)}) ${line}`));
}
