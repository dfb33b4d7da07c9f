// promote-secondary against real nodes and databases: each refusal (running
// node, damaged tree, wrong key, no log key configured, tree smaller than a
// published head, larger peer, a primary's database) stops at its step and
// changes nothing; --dry-run changes nothing; the bin runs the same command;
// a run interrupted before its commit point, and runs repeated after it, and
// after the new primary started, all complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { defaultPrimaryConfigPath, defaultSthPath, primaryConfigText } from '../../src/failover/primary-config.js';
import { parseCosignedTreeHead } from '../../src/formats/messages.js';
import { verifyTreeHeadSignature } from '../../src/formats/checkpoint.js';
import { TREE_MODE_KEY } from '../../src/node-common.js';
import { SthFile } from '../../src/storage/sth-file.js';
import { TreeStore } from '../../src/tree/store.js';
import { makeKey, startNodeProcess, tempDir, writeToml, type NodeSetup } from '../helpers/log-fixture.js';
import { CLI, freePort, http, runCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { startTestAgent } from '../helpers/ssh-agent.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { prepareCluster } from '../replication/fixture.js';
import { promoteSecondary, startPrimary } from './fixture.js';

const BIN = join(CLI, '..', 'promote-secondary-bin.js');

async function publishedRecordSize(s: NodeSetup): Promise<number | undefined> {
  const res = await http(`${s.internalUrl}/get-tree-head`);
  return res.status === 200 ? parseCosignedTreeHead(res.body).size : undefined;
}

function waitForRecord(s: NodeSetup, size: number): Promise<true> {
  return waitUntil(`${s.config} keeps the published head of size ${size}`, async () => ((await publishedRecordSize(s)) === size ? true : undefined), 20_000);
}

/** The step a refusal stopped at, and its text. */
function refusedAt(output: string): { step: number; text: string } {
  const m = /^(\d+)\. .*\n(?:   .*\n)*?   REFUSED: (.*)\n   What to do: (.*)$/m.exec(output);
  assert.ok(m, `no refusal in:\n${output}`);
  return { step: Number(m[1]), text: `${m[2]} ${m[3]}` };
}

function treeMode(dbFile: string): string | undefined {
  const tree = TreeStore.open(dbFile);
  try {
    return tree.getMeta(TREE_MODE_KEY);
  } finally {
    tree.close();
  }
}

/** Nothing of a promotion exists: no primary config, no startup or sth file, a replica database. */
function assertUnchanged(s: NodeSetup): void {
  assert.equal(existsSync(defaultPrimaryConfigPath(s.config)), false, 'no primary config');
  assert.equal(existsSync(defaultSthPath(s.dbFile) + '.startup'), false, 'no startup file');
  assert.equal(existsSync(defaultSthPath(s.dbFile)), false, 'no sth file');
  assert.equal(treeMode(s.dbFile), 'replica');
}

function replaceDatabase(target: string, source: string): void {
  for (const suffix of ['-wal', '-shm']) rmSync(target + suffix, { force: true });
  copyFileSync(source, target);
}

test('promote-secondary refuses what would lose or fork the log, and completes after an interruption', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary: p, secondaries } = await prepareCluster(dir.path, { secondaries: 2, primaryInterval: '300ms', secondaryInterval: '100ms', logPubkey: true });
  const [q1, q2] = secondaries as [NodeSetup, NodeSetup];
  const procs = new Map<NodeSetup, NodeProcess>();
  t.after(() => Promise.all([...procs.values()].map((proc) => proc.kill9())));
  for (const s of [q1, q2]) procs.set(s, await startNodeProcess('secondary', s));
  const pProc = await startNodeProcess('primary', p);
  t.after(() => pProc.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  await submitUntilPublished(p.publicUrl, Array.from({ length: 30 }, () => makeLeaf(submitter)), 30_000);
  await Promise.all([waitForRecord(q1, 30), waitForRecord(q2, 30)]);
  const promote = (s: NodeSetup, ...extra: string[]): Promise<{ code: number | null; output: string }> =>
    promoteSecondary(['--config', s.config, '--log-key-file', p.keyFile, ...extra]);

  // 1. While the secondary runs.
  let run = await promote(q1, '--peer', q2.internalUrl);
  assert.equal(run.code, 1, run.output);
  assert.deepEqual(refusedAt(run.output).step, 1);
  assert.match(refusedAt(run.output).text, /is in use: a node .* has it open\. stop the node/);
  await procs.get(q1)!.stop();
  procs.delete(q1);
  assertUnchanged(q1);

  // A backup of Q1 at size 30; then the log grows to 40 with Q1 running again.
  const backup = join(dir.path, 'q1-backup.db');
  copyFileSync(q1.dbFile, backup);
  procs.set(q1, await startNodeProcess('secondary', q1));
  await submitUntilPublished(p.publicUrl, Array.from({ length: 10 }, () => makeLeaf(submitter)), 30_000);
  await Promise.all([waitForRecord(q1, 40), waitForRecord(q2, 40)]);
  await procs.get(q1)!.stop();
  procs.delete(q1);

  // 3. A key that is not the log's (the secondary's own key, a likely slip).
  run = await promoteSecondary(['--config', q1.config, '--log-key-file', q1.keyFile]);
  assert.equal(run.code, 1, run.output);
  assert.equal(refusedAt(run.output).step, 3);
  assert.match(refusedAt(run.output).text, /is not the log's key in .* Never a new key/);

  // 3. No log-pubkey-file in the secondary's config: nothing says which log it holds.
  const noLogKey = join(dir.path, 'q1-no-log-key.toml');
  writeFileSync(noLogKey, readFileSync(q1.config, 'utf8').replace(/^log-pubkey-file = .*$/m, ''));
  run = await promoteSecondary(['--config', noLogKey, '--log-key-file', p.keyFile]);
  assert.equal(refusedAt(run.output).step, 3);
  assert.match(refusedAt(run.output).text, /no \[secondary\] log-pubkey-file/);

  // A dry run of a promotion that would succeed, through the promote-secondary bin: every check, no change.
  const dry = await runCliWith(BIN, ['--config', q1.config, '--log-key-file', p.keyFile, '--published-head', p.sthFile, '--published-head', p.publicUrl, '--peer', q2.internalUrl, '--dry-run']);
  assert.equal(dry.code, 0, dry.output);
  assert.match(dry.output, /^\(dry run: every check runs, nothing is changed\)$/m);
  assert.match(dry.output, new RegExp(`${escape(p.publicUrl)}: size 40, signed by the log key, same root here: ok`));
  assert.match(dry.output, /would switch the database from replica to appending state at size 40/);
  assert.match(dry.output, /^7\. What remains by hand$/m);
  assert.doesNotMatch(dry.output, /WARNING: no --published-head/, 'heads from outside this node: no warning');
  assertUnchanged(q1);

  // Neither a --published-head nor a --peer that answers: it can only rely on
  // its own record of the last published head, and says so and what to give.
  const deadUrl = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  for (const extra of [[], ['--peer', deadUrl], ['--published-head', deadUrl]]) {
    const alone = await promote(q1, ...extra, '--dry-run');
    assert.equal(alone.code, 0, alone.output);
    assert.match(alone.output, /WARNING: no --published-head could be read and no --peer answered, so these checks rely only on this node's own record of the last published tree head/);
    assert.match(alone.output, /to supply one: --published-head FILE\|URL with the old primary's sth file, its public URL/);
    assertUnchanged(q1);
  }

  // --log-key-file naming the log's public key: the key must be in the ssh-agent at SSH_AUTH_SOCK.
  const agent = await startTestAgent(t, join(dir.path, 'agent.sock'));
  if (agent !== undefined) {
    const viaAgent = (env: Record<string, string>): Promise<{ code: number | null; output: string }> =>
      runCli(['promote-secondary', '--config', q1.config, '--log-key-file', `${p.keyFile}.pub`, '--published-head', p.sthFile, '--dry-run'], 60_000, env);
    run = await viaAgent({ SSH_AUTH_SOCK: '' });
    assert.equal(run.code, 1, run.output);
    assert.equal(refusedAt(run.output).step, 3);
    assert.match(refusedAt(run.output).text, /is a public key \(key hash [0-9a-f]{64}\).*SSH_AUTH_SOCK is not set/);
    run = await viaAgent({ SSH_AUTH_SOCK: agent.socket });
    assert.equal(refusedAt(run.output).step, 3);
    assert.match(refusedAt(run.output).text, /does not hold this key/);
    await agent.add(p.keyFile);
    run = await viaAgent({ SSH_AUTH_SOCK: agent.socket });
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /ok: .*primary\.key\.pub is the log's signing key \(key hash [0-9a-f]{64}, ssh-agent at /);
    assertUnchanged(q1);
  }

  // Q1 restored from the backup (size 30) while the log published 40.
  replaceDatabase(q1.dbFile, backup);
  // 4. The old primary's sth file, or its public API, shows more than Q1 holds.
  for (const source of [p.sthFile, p.publicUrl]) {
    run = await promote(q1, '--published-head', source);
    assert.equal(run.code, 1, run.output);
    assert.equal(refusedAt(run.output).step, 4);
    assert.match(refusedAt(run.output).text, /size 40, but this node holds only 30 leaves: promoting it would lose the published leaves \[30, 40\)/);
  }
  // 5. Its own record (30) is fine, but a peer holds more: refused, naming the peer.
  run = await promote(q1, '--peer', q2.internalUrl);
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /this node's record of the published tree head: size 30, .*: ok/);
  assert.equal(refusedAt(run.output).step, 5);
  assert.match(refusedAt(run.output).text, new RegExp(`peer ${escape(q2.internalUrl)} holds 40 leaves, more than this node's 30\\. promote ${escape(q2.internalUrl)} instead`));
  assertUnchanged(q1);

  // 2. A damaged tree: a stored hash tile that does not match the leaves.
  const damaged = new Database(q1.dbFile);
  damaged.prepare('UPDATE tree_hash_tiles SET hashes = zeroblob(length(hashes)) WHERE id = (SELECT min(id) FROM tree_hash_tiles)').run();
  damaged.close();
  run = await promote(q1);
  assert.equal(refusedAt(run.output).step, 2);
  assert.match(refusedAt(run.output).text, /the local tree is damaged: .* do not promote this node/);

  // A primary's database is never "promoted".
  const asSecondary = join(dir.path, 'primary-as-secondary.toml');
  writeToml(asSecondary, { 'key-file': p.keyFile, 'db-file': p.dbFile }, { secondary: { 'primary-url': q2.internalUrl, 'log-pubkey-file': `${p.keyFile}.pub` } });
  await pProc.kill9();
  run = await promoteSecondary(['--config', asSecondary, '--log-key-file', p.keyFile]);
  assert.equal(refusedAt(run.output).step, 1);
  assert.match(refusedAt(run.output).text, /is a primary's database \(lifecycle state appending\)/);

  // Q2 (intact, size 40): a run interrupted just before its commit point left
  // the primary config and the startup file, and the database still a replica.
  await procs.get(q2)!.stop();
  procs.delete(q2);
  const sthPath = defaultSthPath(q2.dbFile);
  writeFileSync(
    defaultPrimaryConfigPath(q2.config),
    primaryConfigText({ secondaryConfigPath: q2.config, secondaryConfigText: readFileSync(q2.config, 'utf8'), logKeyFile: p.keyFile, sthFile: sthPath, secondaries: [] }),
  );
  new SthFile(sthPath).writeStartup('local-tree');
  assert.equal(treeMode(q2.dbFile), 'replica');
  run = await promote(q2, '--published-head', p.sthFile);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /-primary\.toml: already written/);
  assert.match(run.output, /already says startup=local-tree/);
  assert.match(run.output, /switched the database from replica to appending state at size 40/);
  assert.equal(treeMode(q2.dbFile), 'appending');

  // Running it again changes nothing.
  run = await promote(q2, '--published-head', p.sthFile);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /an earlier run already switched this database to appending state at size 40/);
  assert.match(run.output, /the database is already in appending state \(switched at size 40\)/);
  assert.match(run.output, /Fill in \[primary\] secondary-url/);

  // The new primary starts: its first head is its local tree, signed with the log key.
  const q2Primary = await startPrimary(defaultPrimaryConfigPath(q2.config), 'Q2 primary');
  t.after(() => q2Primary.kill9());
  const res = await http(`${q2.publicUrl}/get-tree-head`);
  const first = parseCosignedTreeHead(res.body);
  assert.equal(first.size, 40);
  assert.ok(verifyTreeHeadSignature(p.signer.publicKey, first));
  assert.equal(existsSync(`${sthPath}.startup`), false, 'the primary consumed the startup file');
  // While it runs, promote-secondary refuses; once stopped, a run after the start is still safe.
  run = await promote(q2);
  assert.equal(refusedAt(run.output).step, 1);
  await q2Primary.stop();
  run = await promote(q2);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /the sth file .*: size 40, signed by the log key, same root here: ok/);
  assert.match(run.output, /exists: the new primary has already started and published; no startup file needed/);
  assert.equal(existsSync(`${sthPath}.startup`), false, 'no startup file next to an sth file');
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Runs another compiled entry point (the promote-secondary bin) like runCli. */
async function runCliWith(script: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
