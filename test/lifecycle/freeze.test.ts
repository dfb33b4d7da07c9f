// freeze / unfreeze with real processes: a primary with a witness and a
// secondary is frozen while stopped; it then refuses new leaves (503, one line
// with "frozen"), still answers 200 for a leaf in its tree, serves every read,
// keeps its final head freshly cosigned, and lets a new secondary replicate
// its whole tree; unfreezing lets it accept leaves again. The commands' own
// refusals (running node, wrong state, bad config) are a table with exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { toHex } from '../../src/hex.js';
import { parseInclusionProof } from '../../src/formats/messages.js';
import { verifyInclusion } from '../../src/tree/verify.js';
import { LIFECYCLE_KEY } from '../../src/lifecycle.js';
import { TreeStore } from '../../src/tree/store.js';
import { makeKey, prepareSecondary, startNodeProcess, tempDir, writeToml } from '../helpers/log-fixture.js';
import { http, runCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { addLeaf, makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { internalHead } from '../failover/fixture.js';
import { policyText, startOurWitness, startPrimaryWithPolicy, treeHead, witnessSpecs, assertQuorum } from '../witness/cluster.js';

const IDLE_MS = 1500;

function storedState(dbFile: string): string | undefined {
  const tree = TreeStore.open(dbFile);
  try {
    return tree.getMeta(LIFECYCLE_KEY);
  } finally {
    tree.close();
  }
}

test('a frozen primary refuses new leaves, keeps serving, cosigning and replicating; unfreeze accepts leaves again', async (t) => {
  const dir = tempDir('sigsum-freeze-');
  t.after(() => dir.remove());
  const [spec] = await witnessSpecs(dir.path, 1);
  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '300ms', idleInterval: `${IDLE_MS}ms`, secondary: true }, async (setup, logPub) => {
    await startOurWitness(t, spec!, logPub);
    return policyText(setup.signer, setup.publicUrl, [spec!], 'quorum w1');
  });
  let primary: NodeProcess = c.primary;
  t.after(() => primary.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 20 }, () => makeLeaf(submitter));
  await submitUntilPublished(c.setup.publicUrl, leaves, 30_000);
  assert.match(primary.output, /lifecycle state appending; local tree size 0/);

  const freeze = (config = c.setup.config): Promise<{ code: number | null; output: string }> => runCli(['freeze', '--config', config]);
  const unfreeze = (config = c.setup.config): Promise<{ code: number | null; output: string }> => runCli(['unfreeze', '--config', config]);

  // Refused while the node runs; nothing changes.
  let run = await freeze();
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /REFUSED: .* is in use: a node \(or another program\) has it open\./);
  await primary.stop();
  assert.equal(storedState(c.setup.dbFile), 'appending');

  run = await freeze();
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /the database is now frozen \(was appending\)/);
  assert.match(run.output, /no leaves are pending: a stopped primary has none/);
  assert.equal(storedState(c.setup.dbFile), 'frozen');

  primary = await startNodeProcess('primary', c.setup);
  assert.match(primary.output, /lifecycle state frozen; local tree size 20, published size 20/);
  // The state is also on the status page's JSON twin and in /metrics (internal listener).
  const statusJson = JSON.parse((await http(`${c.setup.internalUrl}/status.json`)).body) as { lifecycleState: string };
  assert.equal(statusJson.lifecycleState, 'frozen');
  const metrics = (await http(`${c.setup.internalUrl}/metrics`)).body;
  assert.match(metrics, /^sigsum_log_lifecycle_state\{state="frozen"\} 1$/m);
  assert.match(metrics, /^sigsum_log_lifecycle_state\{state="appending"\} 0$/m);

  // New leaves: 503, one line naming the freeze, no Retry-After; never 200/202.
  const fresh = makeLeaf(submitter);
  for (let i = 0; i < 3; i++) {
    const res = await http(`${c.setup.publicUrl}/add-leaf`, { method: 'POST', body: fresh.body });
    assert.equal(res.status, 503);
    assert.match(res.body, /^[^\n]*frozen[^\n]*\n$/);
    assert.equal(res.headers.get('retry-after'), null);
  }
  // A leaf already in the tree still gets its 200.
  assert.equal(await addLeaf(c.setup.publicUrl, leaves[3]!), 200);

  // Reads.
  const head = await treeHead(c);
  assert.equal(head.size, 20);
  assertQuorum(c, head);
  const inclusion = await http(`${c.setup.publicUrl}/get-inclusion-proof/20/${toHex(leaves[7]!.leafHash)}`);
  assert.equal(inclusion.status, 200, inclusion.body);
  // The leaves were submitted concurrently: their indices follow arrival order,
  // so the proof is checked against the head rather than a guessed index.
  const proof = parseInclusionProof(inclusion.body);
  assert.ok(verifyInclusion(leaves[7]!.leafHash, proof.leafIndex, head.size, proof.path, head.rootHash), `inclusion at ${proof.leafIndex}`);
  assert.equal((await http(`${c.setup.publicUrl}/get-consistency-proof/5/20`)).status, 200);
  const got = await http(`${c.setup.publicUrl}/get-leaves/0/20`);
  assert.equal(got.status, 200);
  assert.equal(got.body.split('\n').filter((l) => l.startsWith('leaf=')).length, 20);

  // The final head is re-cosigned at idle-interval: the timestamp advances.
  const first = head.cosignatures[0]!.timestamp;
  await waitUntil('a fresher cosignature on the frozen head', async () => {
    const h = await treeHead(c);
    return h.size === 20 && h.cosignatures.length === 1 && h.cosignatures[0]!.timestamp > first ? true : undefined;
  }, IDLE_MS * 2 + 15_000, 200);
  assertQuorum(c, await treeHead(c));

  // Secondaries keep replicating: a new, empty one catches up with the whole tree.
  const late = await prepareSecondary(join(dir.path, 'late'), { primaryUrl: c.setup.internalUrl, interval: '100ms' });
  const lateProc = await startNodeProcess('secondary', late);
  t.after(() => lateProc.kill9());
  await waitUntil('the new secondary holds the frozen tree', async () => ((await internalHead(late.internalUrl)).size === 20 ? true : undefined), 20_000);
  assert.deepEqual((await internalHead(late.internalUrl)).rootHash, (await internalHead(c.setup.internalUrl)).rootHash);
  assert.match(lateProc.output, /lifecycle state replica/);

  // Unfreeze: refused while running, then done; leaves are accepted again.
  run = await unfreeze();
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /is in use/);
  await primary.stop();
  run = await unfreeze();
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /the database is now appending \(was frozen\)/);
  primary = await startNodeProcess('primary', c.setup);
  assert.match(primary.output, /lifecycle state appending; local tree size 20/);
  await submitUntilPublished(c.setup.publicUrl, [fresh], 30_000);
  assert.equal((await treeHead(c)).size, 21);
});

test('freeze / unfreeze refusals: running node, wrong state, bad config, usage', async (t) => {
  const dir = tempDir('sigsum-freeze-refusals-');
  t.after(() => dir.remove());
  const { preparePrimary } = await import('../helpers/log-fixture.js');
  const p = await preparePrimary(join(dir.path, 'p'));
  // An appending primary database, written the old way (tree-mode = sequencing).
  const tree = TreeStore.open(p.dbFile);
  tree.setMeta('tree-mode', 'sequencing');
  tree.close();
  // A replica's database behind a primary-style config.
  const replicaDb = join(dir.path, 'replica.db');
  const r = TreeStore.open(replicaDb);
  r.setMeta('tree-mode', 'replica');
  r.close();
  const onReplica = join(dir.path, 'on-replica.toml');
  writeToml(onReplica, { 'key-file': p.keyFile, 'db-file': replicaDb }, { primary: { 'sth-file': join(dir.path, 'r.sth') } });
  // A database no node has run on.
  const emptyDb = join(dir.path, 'empty.db');
  TreeStore.open(emptyDb).close();
  const onEmpty = join(dir.path, 'on-empty.toml');
  writeToml(onEmpty, { 'key-file': p.keyFile, 'db-file': emptyDb }, { primary: { 'sth-file': join(dir.path, 'e.sth') } });
  const onMissing = join(dir.path, 'on-missing.toml');
  writeToml(onMissing, { 'key-file': p.keyFile, 'db-file': join(dir.path, 'nothing.db') }, { primary: { 'sth-file': join(dir.path, 'n.sth') } });
  const badToml = join(dir.path, 'bad.toml');
  writeFileSync(badToml, 'db-file = \n');
  const notADb = join(dir.path, 'not-a-db.db');
  writeFileSync(notADb, 'this is not an SQLite database\n');
  const onNotADb = join(dir.path, 'on-not-a-db.toml');
  writeToml(onNotADb, { 'key-file': p.keyFile, 'db-file': notADb }, { primary: { 'sth-file': join(dir.path, 'x.sth') } });
  const noSth = join(dir.path, 'no-sth.toml');
  writeToml(noSth, { 'key-file': p.keyFile, 'db-file': p.dbFile });

  const cases: Array<{ args: string[]; code: number; output: RegExp }> = [
    { args: ['unfreeze', '--config', p.config], code: 1, output: /REFUSED: .*: the database is already appending\./ },
    { args: ['freeze', '--config', onReplica], code: 1, output: /REFUSED: .*: a replica database cannot become frozen; .*\n   What to do: this is a secondary's database/ },
    { args: ['unfreeze', '--config', onReplica], code: 1, output: /REFUSED: .*: a replica database becomes appending only through promote-secondary, not unfreeze\./ },
    { args: ['freeze', '--config', onEmpty], code: 1, output: /REFUSED: .* has no lifecycle state: no node has run on it\./ },
    { args: ['freeze', '--config', onMissing], code: 1, output: /REFUSED: there is no database at .*nothing\.db\./ },
    { args: ['freeze', '--config', join(dir.path, 'absent.toml')], code: 2, output: /sigsum-log: .*absent\.toml/ },
    { args: ['freeze', '--config', onNotADb], code: 2, output: /sigsum-log: .*not-a-db\.db: cannot open the database: file is not a database; check db-file\n$/ },
    { args: ['freeze', '--config', badToml], code: 2, output: /sigsum-log: .*bad\.toml/ },
    { args: ['unfreeze', '--config', noSth], code: 2, output: /sigsum-log: \[primary\] sth-file is not set/ },
    { args: ['freeze'], code: 2, output: /required option '--config <file>' not specified/ },
    { args: ['freeze', '--config', p.config, '--bogus'], code: 2, output: /unknown option '--bogus'/ },
    { args: ['freeze', '--help'], code: 0, output: /Usage: sigsum-log freeze \[options\]/ },
  ];
  for (const { args, code, output } of cases) {
    const run = await runCli(args);
    assert.equal(run.code, code, `${args.join(' ')}:\n${run.output}`);
    assert.match(run.output, output, args.join(' '));
  }
  assert.equal(storedState(p.dbFile), 'sequencing', 'refusals change nothing');
  assert.equal(storedState(replicaDb), 'replica');

  // The old-style database freezes and unfreezes; the new value replaces the old one.
  let run = await runCli(['freeze', '--config', p.config]);
  assert.equal(run.code, 0, run.output);
  assert.equal(storedState(p.dbFile), 'frozen');
  run = await runCli(['freeze', '--config', p.config]);
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /REFUSED: .*: the database is already frozen\./);
  run = await runCli(['unfreeze', '--config', p.config]);
  assert.equal(run.code, 0, run.output);
  assert.equal(storedState(p.dbFile), 'appending');
});
