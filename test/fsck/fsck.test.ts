// sigsum-log fsck against a real primary's database: a primary with a witness
// publishes 200 leaves and stops; each case damages a copy of its database or
// sth file (test/fsck/damage.ts) and expects fsck's exact first problem and
// exit status, then --repair: derivable damage is rebuilt and fsck passes, a
// damaged leaf is refused and left as it was. Also: fsck beside the running
// node while it takes leaves, --repair refused while it runs, bad usage.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { formatCosignedTreeHead, formatSignedTreeHead, parseCosignedTreeHead } from '../../src/formats/messages.js';
import { COSIGNED_META_KEY } from '../../src/primary/startup.js';
import { SthFile } from '../../src/storage/sth-file.js';
import { TreeStore } from '../../src/tree/store.js';
import { asHash, type Signature } from '../../src/types.js';
import { makeKey, startNodeProcess, tempDir, writeToml } from '../helpers/log-fixture.js';
import { freePort, runCli, spawnCli, type NodeProcess } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { policyText, startOurWitness, startPrimaryWithPolicy, witnessSpecs, type Cluster } from '../witness/cluster.js';
import {
  allHashTiles,
  clearLeafIndexFilter,
  copyDatabase,
  deleteHashTile,
  deleteLeafIndexEntry,
  flipLeafByte,
  flipStoredHashByte,
  getRecord,
  leafIndexOnDisk,
  setRecord,
  setSchemaVersion,
  storedLeaf,
} from './damage.js';

const LEAVES = 200;
const dir = tempDir('sigsum-fsck-');
let cluster: Cluster;
let pristineDb: string;
let pristineSth: string;
let caseNumber = 0;

before(async () => {
  const t = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as Parameters<typeof startPrimaryWithPolicy>[0];
  const [spec] = await witnessSpecs(dir.path, 1);
  cluster = await startPrimaryWithPolicy(t, dir.path, { interval: '200ms' }, async (setup, logPub) => {
    // A small dedup chunk, fixed when the file is created, so that the
    // leaf-hash index of 200 leaves has entries on disk.
    TreeStore.open(setup.dbFile, { dedupChunk: 16 }).close();
    await startOurWitness(t, spec!, logPub);
    return policyText(setup.signer, setup.publicUrl, [spec!], 'quorum w1');
  });
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  await submitUntilPublished(cluster.setup.publicUrl, Array.from({ length: LEAVES }, () => makeLeaf(submitter)), 60_000);
  await cluster.primary.stop();
  pristineDb = join(dir.path, 'pristine.db');
  pristineSth = join(dir.path, 'pristine.sth');
  copyDatabase(cluster.setup.dbFile, pristineDb);
  copyFileSync(cluster.setup.sthFile, pristineSth);
  assert.equal(new SthFile(pristineSth).load().size, LEAVES);
  assert.ok(parseCosignedTreeHead(getRecord(pristineDb, COSIGNED_META_KEY) as string).cosignatures.length === 1);
});

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  dir.remove();
});

/** A fresh copy of the pristine database and sth file. */
function copies(): { db: string; sth: string } {
  caseNumber++;
  const db = join(dir.path, `case-${caseNumber}.db`);
  const sth = join(dir.path, `case-${caseNumber}.sth`);
  copyDatabase(pristineDb, db);
  copyFileSync(pristineSth, sth);
  return { db, sth };
}

async function fsck(db: string, sth: string, ...extra: string[]): Promise<{ code: number | null; output: string; first: string | undefined }> {
  const run = await runCli(['fsck', '--config', cluster.setup.config, '--db-file', db, '--sth-file', sth, ...extra], 60_000);
  const m = /problems?; the first: (.*)$/m.exec(run.output);
  return { ...run, first: m?.[1] };
}

test('an intact database passes every check', async () => {
  const { db, sth } = copies();
  const run = await fsck(db, sth);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /^ok: records: schema version ok; lifecycle state appending$/m);
  assert.match(run.output, new RegExp(`^ok: tree: every leaf hash, stored hash and leaf-hash index entry matches the ${LEAVES} stored leaves; root [0-9a-f]{64}$`, 'm'));
  assert.match(run.output, new RegExp(`^ok: sth file .*: size ${LEAVES}, log signature ok, root equal$`, 'm'));
  assert.match(run.output, new RegExp(`^ok: stored cosigned head \\(record ${COSIGNED_META_KEY}\\): size ${LEAVES}, log signature ok, root equal, 1 cosignatures verify, quorum met$`, 'm'));
  assert.match(run.output, /is intact$/m);
  assert.match(run.output, /^fsck: 200\/200 leaves \(100\.0%\)/m, 'progress lines (not a terminal)');
});

interface DamageCase {
  name: string;
  damage: (files: { db: string; sth: string }) => void;
  first: string | RegExp;
  /** After --repair: 0 repaired (fsck then passes), 1 refused or not derivable. */
  repair: 0 | 1;
}

const otherLog = makeKey(join(dir.path, 'other-log.key'));

const cases: DamageCase[] = [
  {
    name: 'a flipped byte in a leaf',
    damage: ({ db }) => flipLeafByte(db, 100),
    first: 'leaf 100: the stored leaf does not hash to its stored leaf hash, which the stored hashes above it agree with: the leaf is damaged',
    repair: 1,
  },
  {
    name: 'a flipped byte in a stored leaf hash',
    damage: ({ db }) => flipStoredHashByte(db, 0, 70),
    first: 'hash tile (level 0, index 1): the stored hash of leaf 70 does not match the stored leaf',
    repair: 0,
  },
  {
    name: 'a flipped byte in a stored interior hash',
    damage: ({ db }) => flipStoredHashByte(db, 3, 2),
    first: 'hash tile (level 0, index 0): the stored hash of node (level 3, index 2) does not match its children',
    repair: 0,
  },
  {
    name: 'a flipped byte in a stored hash of the upper tile level',
    damage: ({ db }) => flipStoredHashByte(db, 7, 0), // leaves 0–127: level 7 lives in tile level 1
    first: 'hash tile (level 1, index 0): the stored hash of node (level 7, index 0) does not match its children',
    repair: 0,
  },
  {
    name: 'a missing hash tile',
    damage: ({ db }) => deleteHashTile(db, 0, 2),
    first: 'hash tile (level 0, index 2) is missing',
    repair: 0,
  },
  {
    name: 'a deleted leaf-hash index entry',
    damage: ({ db }) => {
      assert.ok(leafIndexOnDisk(db) > 50, 'the index has leaves on disk');
      deleteLeafIndexEntry(db, 37);
    },
    first: 'leaf-hash index: the entry of leaf 37 is missing',
    repair: 0,
  },
  {
    name: 'a cleared leaf-hash index filter',
    damage: ({ db }) => clearLeafIndexFilter(db),
    first: /^leaf-hash index: the filter misses the entry of leaf \d+$/,
    repair: 0,
  },
  {
    name: 'an sth file of another tree of this log',
    damage: ({ sth }) => new SthFile(sth).store(signTreeHead(cluster.setup.signer, { size: 150, rootHash: asHash(new Uint8Array(32).fill(9)) })),
    first: /^sth file .*case-\d+\.sth: root 0909(09)+ differs from the root of the stored leaves at size 150 \([0-9a-f]{64}\): another tree's head, or damaged leaves$/,
    repair: 1,
  },
  {
    name: 'an sth file of another log',
    damage: ({ sth }) => writeFileSync(sth, formatSignedTreeHead(signTreeHead(otherLog, { size: 10, rootHash: asHash(new Uint8Array(32)) }))),
    first: /^sth file .*: the log signature does not verify with the log's key$/,
    repair: 1,
  },
  {
    name: 'an sth file beyond the tree',
    damage: ({ sth }) => new SthFile(sth).store(signTreeHead(cluster.setup.signer, { size: 500, rootHash: asHash(new Uint8Array(32)) })),
    first: /^sth file .*: size 500 exceeds the tree size 200: published leaves are missing$/,
    repair: 1,
  },
  {
    name: 'a bad cosignature on the stored cosigned head',
    damage: ({ db }) => {
      const head = parseCosignedTreeHead(getRecord(db, COSIGNED_META_KEY) as string);
      const cs = head.cosignatures[0]!;
      const signature = new Uint8Array(cs.signature);
      signature[5] = (signature[5] as number) ^ 1;
      setRecord(db, COSIGNED_META_KEY, formatCosignedTreeHead({ ...head, cosignatures: [{ ...cs, signature: signature as Signature }] }));
    },
    first: `stored cosigned head (record ${COSIGNED_META_KEY}): the cosignature of witness w1 does not verify`,
    repair: 1,
  },
  {
    name: 'a verified size beyond the tree',
    damage: ({ db }) => setRecord(db, 'replicated-verified-size', '999'),
    first: 'record replicated-verified-size: 999 exceeds the tree size 200',
    repair: 1,
  },
  {
    name: 'an invalid lifecycle state',
    damage: ({ db }) => setRecord(db, 'tree-mode', 'sideways'),
    first: 'record tree-mode: the lifecycle state record (tree-mode) holds "sideways", which is none of appending, replica, frozen',
    repair: 1,
  },
  {
    name: 'an unknown schema version',
    damage: ({ db }) => setSchemaVersion(db, 99),
    first: /: the database cannot be opened: .*tree schema version 99, this program reads \d+$/,
    repair: 1,
  },
];

for (const c of cases) {
  test(`fsck reports ${c.name}; --repair ${c.repair === 0 ? 'rebuilds it' : 'leaves it'}`, async () => {
    const files = copies();
    c.damage(files);
    const run = await fsck(files.db, files.sth);
    assert.equal(run.code, 1, run.output);
    if (typeof c.first === 'string') assert.equal(run.first, c.first, run.output);
    else assert.match(run.first ?? '', c.first, run.output);

    const leafBefore = storedLeaf(files.db, 100);
    const repaired = await fsck(files.db, files.sth, '--repair');
    assert.equal(repaired.code, c.repair, repaired.output);
    assert.deepEqual(storedLeaf(files.db, 100), leafBefore, 'repair never rewrites a leaf');
    const again = await fsck(files.db, files.sth);
    if (c.repair === 0) {
      assert.match(repaired.output, /repair: rebuilding every stored hash and the leaf-hash index from the 200 stored leaves/);
      assert.equal(again.code, 0, again.output);
      assert.ok(allHashTiles(files.db).equals(allHashTiles(pristineDb)), 'the rebuilt hash tiles are the original ones');
    } else {
      assert.equal(again.code, 1, again.output);
      assert.equal(again.first, run.first, 'what repair cannot fix is reported the same afterwards');
    }
  });
}

test('--repair refuses a damaged leaf and says to re-fetch the tree from a secondary', async () => {
  const files = copies();
  flipLeafByte(files.db, 100);
  flipStoredHashByte(files.db, 0, 70); // derivable damage beside it is not rebuilt either
  const run = await fsck(files.db, files.sth, '--repair');
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /^REFUSED: leaf 100: .* the leaf is damaged; repair never rewrites a leaf\.$/m);
  assert.match(run.output, /^What to do: fetch the tree again from a secondary/m);
  assert.doesNotMatch(run.output, /rebuilding/);
  const again = await fsck(files.db, files.sth);
  assert.match(again.output, /^FAIL: hash tile \(level 0, index 1\): the stored hash of leaf 70 does not match the stored leaf$/m);
});

test('fsck beside the running node while it takes leaves; --repair refused while it runs', async () => {
  let primary: NodeProcess | undefined = await startNodeProcess('primary', cluster.setup);
  try {
    const submitter = makeKey(join(dir.path, 'submitter2.key'));
    const adding = submitUntilPublished(cluster.setup.publicUrl, Array.from({ length: 100 }, () => makeLeaf(submitter)), 60_000);
    const run = await runCli(['fsck', '--config', cluster.setup.config], 60_000);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /is intact$/m);
    const refused = await runCli(['fsck', '--config', cluster.setup.config, '--repair'], 60_000);
    assert.equal(refused.code, 1, refused.output);
    assert.match(refused.output, /^REFUSED: .* is in use: a node \(or another program\) has it open\.$/m);
    await adding;
    const after = await runCli(['fsck', '--config', cluster.setup.config], 60_000);
    assert.equal(after.code, 0, after.output);
    assert.match(after.output, /: 300 leaves, lifecycle state appending$/m);
  } finally {
    await primary?.stop();
    primary = undefined;
  }
});

test('fsck usage and configuration errors exit 2', async () => {
  const badPolicy = join(dir.path, 'bad.policy');
  writeFileSync(badPolicy, 'quorum nobody\n');
  const cases: Array<{ args: string[]; code: number; output: RegExp }> = [
    { args: ['fsck'], code: 2, output: /give --config FILE or --db-file FILE/ },
    { args: ['fsck', '--db-file', join(dir.path, 'absent.db')], code: 2, output: /there is no database at .*absent\.db/ },
    { args: ['fsck', '--db-file', pristineDb, '--sth-file', pristineSth], code: 2, output: /checking an sth file needs the log's public key/ },
    { args: ['fsck', '--db-file', pristineDb, '--sth-file', join(dir.path, 'absent.sth')], code: 2, output: /there is no sth file at/ },
    { args: ['fsck', '--config', join(dir.path, 'absent.toml')], code: 2, output: /absent\.toml/ },
    { args: ['fsck', '--db-file', pristineDb, '--policy-file', badPolicy], code: 2, output: /policy file .*bad\.policy/ },
    { args: ['fsck', '--db-file', pristineDb, '--log-pubkey-file', badPolicy], code: 2, output: /log public key file .*bad\.policy/ },
    { args: ['fsck', '--db-file', pristineDb, '--bogus'], code: 2, output: /unknown option '--bogus'/ },
    { args: ['fsck', '--help'], code: 0, output: /Usage: sigsum-log fsck \[options\]/ },
    // Only the database: the tree and records are checked, heads without a key are noted.
    { args: ['fsck', '--db-file', pristineDb], code: 0, output: /log signature not checked \(no log key\)[^\n]*\n(?:.*\n)*.*is intact/ },
  ];
  for (const { args, code, output } of cases) {
    const run = await runCli(args, 60_000);
    assert.equal(run.code, code, `${args.join(' ')}:\n${run.output}`);
    assert.match(run.output, output, args.join(' '));
  }
});

test("a secondary's config: fsck checks its replica database and its record of the published head", async () => {
  const { db } = copies();
  setRecord(db, 'tree-mode', 'replica');
  setRecord(db, 'published-tree-head', getRecord(db, COSIGNED_META_KEY) as string);
  setRecord(db, 'replicated-verified-size', '200');
  const config = join(dir.path, `secondary-${caseNumber}.toml`);
  writeToml(config, { 'key-file': join(dir.path, 'submitter.key'), 'db-file': db }, { secondary: { 'primary-url': `http://127.0.0.1:${await freePort()}`, 'log-pubkey-file': cluster.logPubFile } });
  let run = await runCli(['fsck', '--config', config, '--policy-file', cluster.policyFile], 60_000);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /^ok: records: schema version ok; lifecycle state replica; replicated-verified-size 200 ≤ 200$/m);
  assert.match(run.output, /^ok: stored published head \(record published-tree-head\): size 200, log signature ok, root equal, 1 cosignatures verify, quorum met$/m);
  assert.doesNotMatch(run.output, /sth file/, 'a secondary has no sth file to check');

  // Without a policy the cosignatures are noted, not checked.
  run = await runCli(['fsck', '--config', config], 60_000);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /published-tree-head\): size 200, log signature ok, root equal, 1 cosignatures not checked \(no policy\)$/m);
});

test('--repair killed with -9 part-way leaves the database as it was; run again, it completes', async () => {
  // A tree big enough that the rebuild takes a while, built straight through the store.
  const db = join(dir.path, 'big.db');
  const big = TreeStore.open(db);
  for (let done = 0; done < 200_000; done += 10_000) {
    big.appendLeaves(Array.from({ length: 10_000 }, (_, i) => {
      const leaf = Buffer.alloc(128, 7);
      leaf.writeUInt32BE(done + i, 0);
      return leaf;
    }));
  }
  big.setMeta('tree-mode', 'appending');
  big.close();
  flipStoredHashByte(db, 0, 150_000);
  const tilesBefore = allHashTiles(db);

  const repair = spawnCli(['fsck', '--db-file', db, '--repair'], { name: 'fsck --repair' });
  await repair.waitForOutput(/repair: rebuilding/, 60_000);
  await repair.kill9();
  assert.doesNotMatch(repair.output, /repair: done/, 'killed before the rebuild committed');
  assert.ok(allHashTiles(db).equals(tilesBefore), 'nothing of the rebuild is left');
  let run = await runCli(['fsck', '--db-file', db], 120_000);
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /the first: hash tile \(level 0, index 2343\): the stored hash of leaf 150000 does not match the stored leaf$/m);

  run = await runCli(['fsck', '--db-file', db, '--repair'], 120_000);
  assert.equal(run.code, 0, run.output);
  run = await runCli(['fsck', '--db-file', db], 120_000);
  assert.equal(run.code, 0, run.output);
});
