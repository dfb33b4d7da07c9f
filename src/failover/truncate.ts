// secondary-truncate: let a secondary re-attach to a new primary by dropping
// the leaves the old primary sequenced but never published (they sit where
// the new primary sequenced other leaves, so replication reports a
// divergence). Never below the newest published tree head the node verified.
import { loadConfig } from '../config/config.js';
import { toHex } from '../hex.js';
import { LifecycleError } from '../lifecycle.js';
import { readLifecycleState } from '../node-common.js';
import { PUBLISHED_TREE_HEAD_KEY, VERIFIED_SIZE_KEY } from '../replication/replicator.js';
import type { TreeStore } from '../tree/store.js';
import { localRootAt, truncationRefusal } from './checks.js';
import { Runbook, RunbookRefusal, type LineWriter } from './runbook.js';
import { parseHead } from './sources.js';
import { openStoppedNodeDatabase } from './stopped-node-db.js';

export interface TruncateOptions {
  /** The secondary's config file. */
  configFile: string;
  toSize: number;
  dryRun: boolean;
}

/** Leaves listed one by one before the rest are summarized. */
const LISTED_LEAVES = 10;

export async function truncateSecondary(opts: TruncateOptions, write: LineWriter): Promise<void> {
  const config = loadConfig({ role: 'secondary', configFile: opts.configFile, flags: {}, requirePrimaryUrl: false }); // an import target has no upstream
  const book = new Runbook(write);
  book.say(`secondary-truncate: discarding the leaves of ${config.dbFile} from index ${opts.toSize} on`);
  if (opts.dryRun) book.say('(dry run: nothing is changed)');

  const store = await book.step('The secondary is stopped', (note) => {
    const opened = openStoppedNodeDatabase(config.dbFile);
    let state;
    try {
      state = readLifecycleState(opened);
    } catch (err) {
      opened.close();
      if (err instanceof LifecycleError) throw new RunbookRefusal(`${config.dbFile}: ${err.message}.`, 'run `sigsum-log fsck` on it.');
      throw err;
    }
    if (state !== 'replica') {
      opened.close();
      throw new RunbookRefusal(`${config.dbFile} is not a secondary's database (lifecycle state ${state ?? 'unset'}).`, 'a primary\'s tree is never truncated; give a secondary\'s config file.');
    }
    note(`ok: no running node has ${config.dbFile} open; this command holds it until it ends`);
    return opened;
  });
  try {
    await book.step('Never below a published tree head', (note) => {
      const record = store.getMeta(PUBLISHED_TREE_HEAD_KEY);
      const published = record === undefined ? undefined : parseHead('this node\'s record of the published tree head', record).size;
      const refusal = truncationRefusal(opts.toSize, store.size(), published);
      if (refusal !== undefined) throw refusal;
      note(`ok: the newest published tree head this node verified has size ${published}; ${opts.toSize} ≥ ${published}`);
    });
    await book.step('What goes', (note) => describeDiscarded(store, opts.toSize, note));
    await book.step(opts.dryRun ? 'Discard (dry run: nothing is changed)' : 'Discard', (note) => discard(store, opts.toSize, opts.dryRun, note));
  } finally {
    store.close();
  }
}

function describeDiscarded(store: TreeStore, toSize: number, note: LineWriter): void {
  const size = store.size();
  if (toSize === size) {
    note(`nothing: the tree has exactly ${size} leaves`);
    return;
  }
  note(`${size - toSize} leaves, indices [${toSize}, ${size}):`);
  for (let i = toSize; i < Math.min(size, toSize + LISTED_LEAVES); i++) note(`  index ${i} leaf hash ${toHex(store.leafHashAt(i))}`);
  if (size - toSize > LISTED_LEAVES) note(`  ... and ${size - toSize - LISTED_LEAVES} more`);
  note(`the root becomes ${toHex(localRootAt({ size, rootAt: (n) => store.rootAt(n) }, toSize))} (size ${toSize})`);
}

function discard(store: TreeStore, toSize: number, dryRun: boolean, note: LineWriter): void {
  const size = store.size();
  const verified = Number(store.getMeta(VERIFIED_SIZE_KEY) ?? '0');
  if (toSize === size) {
    note('nothing to do');
    return;
  }
  if (dryRun) {
    note(`would discard ${size - toSize} leaves; the node would then replicate from index ${toSize}`);
    return;
  }
  // The verified size first: a replica refuses to start when it exceeds the
  // tree, so it must never be above the tree's size, even for a moment.
  if (verified > toSize) store.setMeta(VERIFIED_SIZE_KEY, String(toSize)); // crash-safe point: the tree is still whole
  store.truncate(toSize); // crash-safe point: all leaves from toSize on are gone, or none
  note(`discarded ${size - toSize} leaves; start the secondary again and it replicates from index ${toSize}`);
}
