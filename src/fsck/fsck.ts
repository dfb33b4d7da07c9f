// sigsum-log fsck: check a node's database and its published heads, and with
// repair rebuild what is derivable from the leaves.
//
// Checks, in report order: the schema and meta records (lifecycle state,
// verified and promoted sizes), the tree (TreeStore.checkTree: every leaf
// hash, stored hash and leaf-hash index entry; src/tree/integrity.ts), the sth
// file (signature, size within the tree, root equal to the root of the
// stored leaves), and the stored published heads (log signature, size, root,
// and the cosignatures against the policy). Read-only, in one read
// transaction: safe beside a running node. Repair needs the node stopped
// (the exclusive lock of src/failover/stopped-node-db.ts), refuses when a leaf
// is damaged (leaves are never rewritten; the tree must be fetched again from
// a secondary) or when the leaves do not produce the root of a published head,
// and otherwise rebuilds every stored hash and the leaf-hash index in one
// transaction, then checks everything again.
import { existsSync } from 'node:fs';
import { keyHash } from '../crypto/index.js';
import { ConfigError } from '../errors.js';
import { verifyCosignature, verifyTreeHeadSignature } from '../formats/checkpoint.js';
import { parseCosignedTreeHead } from '../formats/messages.js';
import { findWitness, quorumSatisfied, type Policy } from '../formats/policy.js';
import type { CosignedTreeHead, SignedTreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import { LIFECYCLE_KEY, LifecycleError, parseLifecycleState, type LifecycleState } from '../lifecycle.js';
import { PROMOTED_AT_SIZE_KEY } from '../failover/promote.js';
import { RunbookRefusal } from '../failover/runbook.js';
import { openStoppedNodeDatabase } from '../failover/stopped-node-db.js';
import { COSIGNED_META_KEY } from '../primary/startup.js';
import { PUBLISHED_TREE_HEAD_KEY, VERIFIED_SIZE_KEY } from '../replication/replicator.js';
import { SthFile } from '../storage/sth-file.js';
import { emptyRoot } from '../tree/hash.js';
import { isDerivable, type TreeCheck } from '../tree/integrity.js';
import { DatabaseOpenError } from '../tree/errors.js';
import { TreeStore } from '../tree/store.js';
import type { Hash, PublicKey } from '../types.js';

export interface FsckOptions {
  readonly dbFile: string;
  /** The sth file to check; undefined: none. */
  readonly sthFile?: string | undefined;
  /** The log's public key: signatures of the sth file and the stored heads. */
  readonly logPublicKey?: PublicKey | undefined;
  /** Cosignatures of the stored heads are checked against it. */
  readonly policy?: Policy | undefined;
  readonly repair: boolean;
}

export interface FsckOutput {
  /** One line of the report (a newline is added). */
  line(text: string): void;
  /** Leaves checked so far of the tree's total. */
  progress(done: number, total: number): void;
  /** The tree pass is over (ends a progress bar). */
  progressDone(): void;
}

/** A failed check: where (a leaf index, a tile, a record or a file) and what. */
interface Failure {
  readonly message: string;
}

/** The failures found so far, each printed as it is found. */
class Findings {
  readonly failures: Failure[] = [];
  constructor(private readonly out: FsckOutput) {}
  fail(message: string): void {
    this.failures.push({ message });
    this.out.line(`FAIL: ${message}`);
  }
  get count(): number {
    return this.failures.length;
  }
}

/** A published head found in a file or a record, to compare with the leaves. */
interface HeadToCheck {
  readonly name: string;
  readonly head: CosignedTreeHead | SignedTreeHead;
  readonly cosigned: boolean;
}

/** Runs fsck; returns the exit status (0 intact, 1 a check failed or repair refused). */
export function runFsck(opts: FsckOptions, out: FsckOutput): number {
  if (!existsSync(opts.dbFile)) throw new ConfigError(`there is no database at ${opts.dbFile}`);
  if (opts.sthFile !== undefined && opts.logPublicKey === undefined) {
    throw new ConfigError('checking an sth file needs the log\'s public key: give --log-pubkey-file (or --config)');
  }
  let store: TreeStore;
  try {
    store = opts.repair ? openStoppedNodeDatabase(opts.dbFile) : TreeStore.open(opts.dbFile, { readOnly: true });
  } catch (err) {
    if (err instanceof RunbookRefusal) {
      out.line(`REFUSED: ${err.problem}`);
      out.line(`What to do: ${err.remedy}`);
      return 1;
    }
    if (err instanceof ConfigError) throw err;
    const reason = err instanceof DatabaseOpenError ? err.reason : (err as Error).message;
    return finish(out, opts.dbFile, [{ message: `${opts.dbFile}: the database cannot be opened: ${reason}` }]);
  }
  try {
    const first = checkAll(store, opts, out);
    if (!opts.repair) return finish(out, opts.dbFile, first.failures);
    return repair(store, opts, out, first);
  } finally {
    store.close();
  }
}

interface CheckResult {
  readonly failures: Failure[];
  readonly tree: TreeCheck;
  readonly heads: HeadToCheck[];
}

function checkAll(store: TreeStore, opts: FsckOptions, out: FsckOutput): CheckResult {
  const findings = new Findings(out);
  const fail = (message: string): void => findings.fail(message);
  // One read transaction for everything: a running node may append meanwhile,
  // and the records must be compared with the same tree the check read.
  return store.db.transaction(() => {
    // Heads first: the tree check also computes the root of the leaves at their sizes.
    const heads: HeadToCheck[] = [];
    const headFailures: string[] = [];
    if (opts.sthFile !== undefined) {
      const head = readSthFile(opts.sthFile, (m) => headFailures.push(m), out);
      if (head !== undefined) heads.push({ name: `sth file ${opts.sthFile}`, head, cosigned: false });
    }
    for (const [key, name] of [
      [COSIGNED_META_KEY, 'stored cosigned head'],
      [PUBLISHED_TREE_HEAD_KEY, 'stored published head'],
    ] as const) {
      const text = store.getMeta(key);
      if (text === undefined) continue;
      try {
        heads.push({ name: `${name} (record ${key})`, head: parseCosignedTreeHead(text), cosigned: true });
      } catch (err) {
        headFailures.push(`record ${key}: does not parse: ${(err as Error).message}`);
      }
    }

    const tree = store.checkTree({ onProgress: (done, total) => out.progress(done, total), rootsAt: heads.map((h) => h.head.size) });
    out.progressDone();
    const state = checkRecords(store, tree.size, fail, out);
    out.line(`fsck: ${opts.dbFile}: ${tree.size} leaves, lifecycle state ${state ?? 'unset'}`);
    reportTree(tree, state, fail, out);
    for (const m of headFailures) fail(m);
    for (const h of heads) checkHead(h, tree, opts, findings, out);
    return { failures: findings.failures, tree, heads };
  }).deferred();
}

/** Schema, lifecycle state and the size records; returns the lifecycle state. */
function checkRecords(store: TreeStore, size: number, fail: (m: string) => void, out: FsckOutput): LifecycleState | undefined {
  let state: LifecycleState | undefined;
  const notes: string[] = ['schema version ok'];
  try {
    state = parseLifecycleState(store.getMeta(LIFECYCLE_KEY));
    notes.push(state === undefined ? 'no lifecycle state (no node has run on it)' : `lifecycle state ${state}`);
  } catch (err) {
    if (!(err instanceof LifecycleError)) throw err;
    fail(`record ${LIFECYCLE_KEY}: ${err.message}`);
  }
  for (const key of [VERIFIED_SIZE_KEY, PROMOTED_AT_SIZE_KEY]) {
    const text = store.getMeta(key);
    if (text === undefined) continue;
    if (!/^(0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text))) {
      fail(`record ${key}: "${text}" is not a tree size`);
    } else if (Number(text) > size) {
      fail(`record ${key}: ${text} exceeds the tree size ${size}`);
    } else {
      notes.push(`${key} ${text} ≤ ${size}`);
    }
  }
  out.line(`ok: records: ${notes.join('; ')}`);
  return state;
}

function reportTree(tree: TreeCheck, state: LifecycleState | undefined, fail: (m: string) => void, out: FsckOutput): void {
  for (const p of tree.problems) fail(p.message);
  if (tree.unlisted > 0) out.line(`... and ${tree.unlisted} more problems in the tree`);
  if (tree.duplicates.count > 0) {
    const [first, again] = tree.duplicates.listed[0] as readonly [number, number];
    const what = `${tree.duplicates.count} leaves are stored twice (first: leaf ${again} repeats leaf ${first})`;
    // A replica mirrors its source, duplicates included; a log that
    // sequenced its own leaves never stores one twice.
    if (state === 'replica') out.line(`note: ${what}; this replica mirrors them from its source`);
    else fail(`leaf ${again} repeats leaf ${first}: ${what}, which a sequencing log never does`);
  }
  if (tree.problems.length === 0 && tree.root !== undefined) {
    out.line(`ok: tree: every leaf hash, stored hash and leaf-hash index entry matches the ${tree.size} stored leaves; root ${toHex(tree.root)}`);
  }
}

function readSthFile(path: string, fail: (m: string) => void, out: FsckOutput): SignedTreeHead | undefined {
  const file = new SthFile(path);
  if (!file.exists()) {
    if (existsSync(file.startupPath)) {
      out.line(`ok: sth file ${path}: not written yet (${file.startupPath} is there: the log has not started)`);
    } else {
      fail(`sth file ${path}: missing, and no startup file`);
    }
    return undefined;
  }
  try {
    return file.load();
  } catch (err) {
    fail(`sth file ${path}: ${(err as Error).message}`);
    return undefined;
  }
}

/** A head's log signature, size, root (from the stored leaves), and for a cosigned one its cosignatures. */
function checkHead(h: HeadToCheck, tree: TreeCheck, opts: FsckOptions, findings: Findings, out: FsckOutput): void {
  const { head, name } = h;
  const fail = (message: string): void => findings.fail(message);
  const before = findings.count;
  const notes: string[] = [`size ${head.size}`];
  if (opts.logPublicKey === undefined) {
    notes.push('log signature not checked (no log key)');
  } else if (!verifyTreeHeadSignature(opts.logPublicKey, head)) {
    fail(`${name}: the log signature does not verify with the log's key`);
  } else {
    notes.push('log signature ok');
  }
  if (head.size > tree.size) {
    fail(`${name}: size ${head.size} exceeds the tree size ${tree.size}: published leaves are missing`);
  } else {
    const root = leafRootAt(tree, head.size);
    if (root === undefined) {
      notes.push('root not checked (the stored leaves could not all be read)');
    } else if (!bytesEqual(root, head.rootHash)) {
      fail(`${name}: root ${toHex(head.rootHash)} differs from the root of the stored leaves at size ${head.size} (${toHex(root)}): another tree's head, or damaged leaves`);
    } else {
      notes.push('root equal');
    }
  }
  if ('cosignatures' in head && h.cosigned) checkCosignatures(head, name, opts, fail, notes);
  if (findings.count === before) out.line(`ok: ${name}: ${notes.join(', ')}`);
}

/** The root of the stored leaves at size, from the tree check; undefined when they could not be read. */
function leafRootAt(tree: TreeCheck, size: number): Hash | undefined {
  if (size === 0) return emptyRoot();
  return tree.rootsAt.get(size);
}

function checkCosignatures(head: CosignedTreeHead, name: string, opts: FsckOptions, fail: (m: string) => void, notes: string[]): void {
  const policy = opts.policy;
  if (policy === undefined) {
    notes.push(`${head.cosignatures.length} cosignatures not checked (no policy)`);
    return;
  }
  if (opts.logPublicKey === undefined) {
    notes.push('cosignatures not checked (no log key)');
    return;
  }
  const logKeyHash = keyHash(opts.logPublicKey);
  const valid = new Set<string>();
  let unknown = 0;
  for (const cs of head.cosignatures) {
    const witness = findWitness(policy, cs.keyHash);
    if (witness === undefined) {
      unknown++;
      continue;
    }
    if (!verifyCosignature(witness.publicKey, logKeyHash, head, cs)) {
      fail(`${name}: the cosignature of witness ${witness.name} does not verify`);
      continue;
    }
    valid.add(toHex(cs.keyHash));
  }
  if (!quorumSatisfied(policy, valid)) {
    fail(`${name}: its ${valid.size} valid cosignatures do not satisfy the policy's quorum`);
    return;
  }
  notes.push(`${valid.size} cosignatures verify, quorum met` + (unknown > 0 ? ` (${unknown} by witnesses not in the policy ignored)` : ''));
}

function finish(out: FsckOutput, dbFile: string, failures: readonly Failure[]): number {
  const first = failures[0];
  if (first === undefined) {
    out.line(`fsck: ${dbFile} is intact`);
    return 0;
  }
  out.line(`fsck: ${dbFile}: ${failures.length} problem${failures.length === 1 ? '' : 's'}; the first: ${first.message}`);
  return 1;
}

function repair(store: TreeStore, opts: FsckOptions, out: FsckOutput, first: CheckResult): number {
  const { tree } = first;
  const damagedLeaf = tree.problems.find((p) => !isDerivable(p));
  if (damagedLeaf !== undefined) {
    out.line(`REFUSED: ${damagedLeaf.message}; repair never rewrites a leaf.`);
    out.line(
      'What to do: fetch the tree again from a secondary: keep this database aside, start this node with an empty database as a secondary of a healthy node (or promote a healthy secondary), as doc/failover.md describes.',
    );
    return 1;
  }
  if (tree.problems.length === 0) {
    out.line('repair: nothing to rebuild: the stored hashes and the leaf-hash index match the leaves');
    return finish(out, opts.dbFile, first.failures);
  }
  // The rebuilt hashes follow the leaves: they must give every published root.
  for (const h of first.heads) {
    if (h.head.size > tree.size) continue;
    const root = leafRootAt(tree, h.head.size);
    if (root === undefined || !bytesEqual(root, h.head.rootHash)) {
      out.line(`REFUSED: the stored leaves do not give the root of the ${h.name} (size ${h.head.size}): a leaf is damaged or the head is another tree's; repair never rewrites a leaf.`);
      out.line('What to do: fetch the tree again from a secondary (doc/failover.md), or give the right --sth-file.');
      return 1;
    }
  }
  out.line(`repair: rebuilding every stored hash and the leaf-hash index from the ${tree.size} stored leaves (one transaction)`);
  store.rebuildDerived((done) => out.progress(done, tree.size));
  out.progressDone();
  out.line('repair: done; checking again');
  const again = checkAll(store, opts, out);
  return finish(out, opts.dbFile, again.failures);
}
