// freeze / unfreeze: switch a stopped primary's database between the
// lifecycle states appending and frozen (src/lifecycle.ts). The node must be
// stopped (the database's exclusive lock, as for promote-secondary), so a
// freeze has no pending leaves: a running primary's pending pool is sequenced
// when it stops, and leaves answered 202 but lost in a crash were never
// durable; their submitters retry and, once the log is frozen, are refused.
import { loadConfig } from '../config/config.js';
import { LIFECYCLE_KEY, LifecycleError, transitionRefusal, type LifecycleState } from '../lifecycle.js';
import { readLifecycleState } from '../node-common.js';
import { Runbook, RunbookRefusal, type LineWriter } from './runbook.js';
import { openStoppedNodeDatabase } from './stopped-node-db.js';

export interface FreezeOptions {
  /** The primary's config file. */
  configFile: string;
  /** frozen: freeze; appending: unfreeze. */
  to: Extract<LifecycleState, 'frozen' | 'appending'>;
}

export async function setFrozen(opts: FreezeOptions, write: LineWriter): Promise<void> {
  const config = loadConfig({ role: 'primary', configFile: opts.configFile, flags: {} });
  const command = opts.to === 'frozen' ? 'freeze' : 'unfreeze';
  const book = new Runbook(write);
  book.say(`${command}: ${config.dbFile} from ${opts.to === 'frozen' ? 'appending to frozen' : 'frozen to appending'}`);
  const store = await book.step('The primary is stopped', (note) => {
    const opened = openStoppedNodeDatabase(config.dbFile);
    note(`ok: no running node has ${config.dbFile} open; this command holds it until it ends`);
    return opened;
  });
  try {
    const from = await book.step('The lifecycle state allows it', (note) => {
      let state: LifecycleState | undefined;
      try {
        state = readLifecycleState(store);
      } catch (err) {
        if (!(err instanceof LifecycleError)) throw err;
        throw new RunbookRefusal(`${config.dbFile}: ${err.message}.`, 'run `sigsum-log fsck` on it.');
      }
      if (state === undefined) {
        throw new RunbookRefusal(`${config.dbFile} has no lifecycle state: no node has run on it.`, 'start the primary once first, or check db-file in the config file.');
      }
      const refusal = transitionRefusal(state, opts.to, command);
      if (refusal !== undefined) throw new RunbookRefusal(`${config.dbFile}: ${refusal}.`, remedy(state, opts.to));
      note(`ok: ${state} → ${opts.to}; ${store.size()} leaves in the tree`);
      return state;
    });
    await book.step(opts.to === 'frozen' ? 'Freeze' : 'Unfreeze', (note) => {
      store.setMeta(LIFECYCLE_KEY, opts.to); // one durable write: the old state or the new one
      note(`the database is now ${opts.to} (was ${from})`);
      if (opts.to === 'frozen') {
        note('no leaves are pending: a stopped primary has none; leaves answered 202 before it stopped and not in the tree are refused from now on');
        note('start the primary as before: it serves every read, its secondaries keep replicating, it publishes and re-cosigns its final tree head every idle-interval, and add-leaf answers 503 "the log is frozen" for new leaves');
      } else {
        note('start the primary as before: it accepts new leaves again');
      }
    });
  } finally {
    store.close();
  }
}

function remedy(from: LifecycleState, to: LifecycleState): string {
  if (from === to) return 'nothing to do.';
  if (from === 'replica') return "this is a secondary's database; give the primary's config file (a secondary becomes a primary only through promote-secondary).";
  return `give the config file of a ${to === 'frozen' ? 'appending' : 'frozen'} primary.`;
}
