// The lifecycle state machine (pure), and reading databases written before
// it existed (tree-mode sequencing | replica) through the real store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LIFECYCLE_KEY, LIFECYCLE_STATES, parseLifecycleState, runRefusal, transitionRefusal, type LifecycleState } from '../../src/lifecycle.js';
import { openTreeForNode, openTreeForRole, readLifecycleState } from '../../src/node-common.js';
import { ConfigError } from '../../src/errors.js';
import { TreeStore } from '../../src/tree/store.js';
import { tempDir } from '../helpers/log-fixture.js';

test('transitions: exactly replica → appending, appending → frozen, frozen → appending are allowed', () => {
  const allowed = new Set(['replica→appending', 'appending→frozen', 'frozen→appending']);
  for (const from of LIFECYCLE_STATES) {
    for (const to of LIFECYCLE_STATES) {
      const refusal = transitionRefusal(from, to);
      if (allowed.has(`${from}→${to}`)) assert.equal(refusal, undefined, `${from} → ${to}`);
      else assert.ok(refusal !== undefined && refusal.length > 0, `${from} → ${to} is refused`);
    }
  }
  assert.equal(transitionRefusal('frozen', 'frozen'), 'the database is already frozen');
  assert.match(transitionRefusal('replica', 'frozen') ?? '', /a replica database cannot become frozen; .* appending \(promote-secondary\)/);
  assert.match(transitionRefusal('frozen', 'replica') ?? '', /only allowed change is to appending \(unfreeze\)/);
  assert.match(transitionRefusal('appending', 'replica') ?? '', /only allowed change is to frozen \(freeze\)/);
  // Each allowed transition has its one command.
  assert.equal(transitionRefusal('replica', 'appending', 'promote-secondary'), undefined);
  assert.equal(transitionRefusal('appending', 'frozen', 'freeze'), undefined);
  assert.equal(transitionRefusal('frozen', 'appending', 'unfreeze'), undefined);
  assert.equal(transitionRefusal('replica', 'appending', 'unfreeze'), 'a replica database becomes appending only through promote-secondary, not unfreeze');
  assert.match(transitionRefusal('frozen', 'appending', 'promote-secondary') ?? '', /only through unfreeze/);
});

test('stored values: the states, the legacy tree-mode values, and garbage', () => {
  const cases: Array<[string | undefined, LifecycleState | undefined | RegExp]> = [
    [undefined, undefined],
    ['appending', 'appending'],
    ['replica', 'replica'],
    ['frozen', 'frozen'],
    ['sequencing', 'appending'], // written before the lifecycle existed
    ['', /holds "", which is none of appending, replica, frozen/],
    ['Frozen', /holds "Frozen"/],
    ['primary', /holds "primary"/],
  ];
  for (const [stored, want] of cases) {
    if (want instanceof RegExp) assert.throws(() => parseLifecycleState(stored), want, String(stored));
    else assert.equal(parseLifecycleState(stored), want, String(stored));
  }
});

test('which node runs in which state', () => {
  assert.equal(runRefusal('primary', 'appending'), undefined);
  assert.equal(runRefusal('primary', 'frozen'), undefined);
  assert.match(runRefusal('primary', 'replica') ?? '', /secondary's database .* promote-secondary/);
  assert.equal(runRefusal('replica', 'replica'), undefined);
  assert.match(runRefusal('replica', 'appending') ?? '', /primary's database \(lifecycle state appending\)/);
  assert.match(runRefusal('replica', 'frozen') ?? '', /primary's database \(lifecycle state frozen\)/);
});

test('databases written the old way (tree-mode sequencing | replica) open as appending | replica', () => {
  const dir = tempDir();
  try {
    const write = (name: string, value: string): string => {
      const file = join(dir.path, `${name}.db`);
      const tree = TreeStore.open(file);
      tree.setMeta('tree-mode', value);
      tree.appendLeaves([new Uint8Array(128).fill(1)]);
      tree.close();
      return file;
    };
    const oldPrimary = write('primary', 'sequencing');
    const opened = openTreeForNode(oldPrimary, 'primary');
    assert.equal(opened.state, 'appending');
    assert.equal(opened.tree.size(), 1);
    assert.equal(opened.tree.getMeta(LIFECYCLE_KEY), 'sequencing', 'opening does not rewrite the record');
    opened.tree.close();
    assert.throws(() => openTreeForRole(oldPrimary, 'replica'), (e: unknown) => e instanceof ConfigError && /primary's database \(lifecycle state appending\)/.test(e.message));

    const oldReplica = write('replica', 'replica');
    const replica = openTreeForRole(oldReplica, 'replica');
    assert.equal(readLifecycleState(replica), 'replica');
    replica.close();
    assert.throws(() => openTreeForRole(oldReplica, 'sequencing'), /secondary's database \(lifecycle state replica\)/);

    const garbage = write('garbage', 'sideways');
    assert.throws(() => openTreeForNode(garbage, 'primary'), (e: unknown) => e instanceof ConfigError && /holds "sideways"/.test(e.message));

    // A new database gets its node's initial state.
    const fresh = openTreeForNode(join(dir.path, 'new.db'), 'primary');
    assert.equal(fresh.state, 'appending');
    assert.equal(fresh.tree.getMeta(LIFECYCLE_KEY), 'appending');
    fresh.tree.close();
    const freshReplica = openTreeForRole(join(dir.path, 'new-replica.db'), 'replica');
    assert.equal(freshReplica.getMeta(LIFECYCLE_KEY), 'replica');
    freshReplica.close();
  } finally {
    dir.remove();
  }
});
