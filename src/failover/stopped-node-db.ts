// "The node is stopped": open a node's database only if no running node has
// it open, and keep every node out until the command is done with it.
//
// A node keeps its SQLite connection open while it runs, and in WAL mode an
// open connection holds a shared POSIX lock on the database file. The kernel
// drops such locks when the process dies, kill -9 included, so asking SQLite
// for an exclusive lock is a test no stale pid or lock file can fool. With
// locking_mode=EXCLUSIVE the lock is then held until close: a node started
// meanwhile waits and fails with "database is locked" instead of running on a
// database that is being changed under it.
import { existsSync } from 'node:fs';
import { TreeStore } from '../tree/store.js';
import { RunbookRefusal } from './runbook.js';

export function openStoppedNodeDatabase(dbFile: string): TreeStore {
  if (!existsSync(dbFile)) {
    throw new RunbookRefusal(`there is no database at ${dbFile}.`, 'check db-file in the config file.');
  }
  let store: TreeStore;
  try {
    store = TreeStore.open(dbFile);
  } catch (err) {
    throw isBusy(err) ? inUse(dbFile) : err;
  }
  try {
    store.db.pragma('busy_timeout = 0');
    store.db.pragma('locking_mode = EXCLUSIVE');
    store.db.exec('BEGIN EXCLUSIVE; COMMIT');
    return store;
  } catch (err) {
    store.close();
    throw isBusy(err) ? inUse(dbFile) : err;
  }
}

function isBusy(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_BUSY';
}

function inUse(dbFile: string): RunbookRefusal {
  return new RunbookRefusal(
    `${dbFile} is in use: a node (or another program) has it open.`,
    'stop the node that uses this database (systemctl stop, or SIGTERM to its process), close any other program that has it open, and run this command again.',
  );
}
