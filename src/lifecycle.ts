// A log database's lifecycle state and the transitions between states. Pure:
// the stored value is read and written by node-common.ts and the runbook
// commands; this module only decides what a value means and what may follow.
//
//   replica ──promote-secondary──▶ appending ──freeze──▶ frozen
//                                      ▲                    │
//                                      └──────unfreeze──────┘
//
// - appending: a primary's tree; it sequences new leaves.
// - replica: a secondary's tree (also an import or restore target); leaves
//   arrive preordered from another node.
// - frozen: a quiescent primary; it serves and re-cosigns its final tree head
//   and its secondaries keep replicating, but it sequences nothing new.

export type LifecycleState = 'appending' | 'replica' | 'frozen';

export const LIFECYCLE_STATES: readonly LifecycleState[] = ['appending', 'replica', 'frozen'];

/**
 * The meta record holding the state. Its name predates the lifecycle (it was
 * "tree mode": sequencing | replica) and is kept on purpose: a database
 * written by this version then carries a value older versions do not know, so
 * an older binary refuses it instead of appending to a frozen log.
 */
export const LIFECYCLE_KEY = 'tree-mode';

/** Values written before the lifecycle existed, and what they mean now. */
const LEGACY_VALUES: Readonly<Record<string, LifecycleState>> = { sequencing: 'appending' };

/** The node roles that open a database, and the states each may run in. */
export type NodeKind = 'primary' | 'replica';

const RUNS_IN: Readonly<Record<NodeKind, readonly LifecycleState[]>> = {
  primary: ['appending', 'frozen'],
  replica: ['replica'],
};

/** The state a new database gets when a node of this kind creates it. */
export function initialState(kind: NodeKind): LifecycleState {
  return kind === 'primary' ? 'appending' : 'replica';
}

export class LifecycleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LifecycleError';
  }
}

/**
 * The state a stored value records: undefined for a database no node has run
 * on yet; a LifecycleError for a value that is none of the states.
 */
export function parseLifecycleState(stored: string | undefined): LifecycleState | undefined {
  if (stored === undefined) return undefined;
  if ((LIFECYCLE_STATES as readonly string[]).includes(stored)) return stored as LifecycleState;
  const legacy = LEGACY_VALUES[stored];
  if (legacy !== undefined) return legacy;
  throw new LifecycleError(`the lifecycle state record (${LIFECYCLE_KEY}) holds "${stored}", which is none of ${LIFECYCLE_STATES.join(', ')}`);
}

/** The command that makes each allowed transition. */
const TRANSITIONS: ReadonlyArray<{ from: LifecycleState; to: LifecycleState; command: TransitionCommand }> = [
  { from: 'replica', to: 'appending', command: 'promote-secondary' },
  { from: 'appending', to: 'frozen', command: 'freeze' },
  { from: 'frozen', to: 'appending', command: 'unfreeze' },
];

export type TransitionCommand = 'promote-secondary' | 'freeze' | 'unfreeze';

/**
 * Why from → to is not allowed (made by `command`, when given: each
 * transition has its one command), or undefined when it is.
 */
export function transitionRefusal(from: LifecycleState, to: LifecycleState, command?: TransitionCommand): string | undefined {
  const transition = TRANSITIONS.find((t) => t.from === from && t.to === to);
  if (transition !== undefined && (command === undefined || transition.command === command)) return undefined;
  if (from === to) return `the database is already ${from}`;
  const allowed = TRANSITIONS.filter((t) => t.from === from).map((t) => `${t.to} (${t.command})`);
  if (transition !== undefined) return `a ${from} database becomes ${to} only through ${transition.command}, not ${command}`;
  return (
    `a ${from} database cannot become ${to}; from ${from} the only allowed change is to ` +
    (allowed.length === 0 ? 'nothing' : allowed.join(' or '))
  );
}

/** Why a node of this kind must not run on a database in this state, or undefined when it may. */
export function runRefusal(kind: NodeKind, state: LifecycleState): string | undefined {
  if (RUNS_IN[kind].includes(state)) return undefined;
  if (kind === 'primary') {
    return "it is a secondary's database (lifecycle state replica); turn it into a primary with `sigsum-log promote-secondary`";
  }
  return `it is a primary's database (lifecycle state ${state}); a secondary needs its own database`;
}
