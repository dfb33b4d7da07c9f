// sigsum-log backup / restore with real processes: an online backup of a
// primary under load, periodic backups (retention, cleanup of an unfinished
// one), the bad-input tables, and the "restore a primary from backup"
// runbook end to end (primary + secondary, the primary's files destroyed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifest, type BackupManifest } from '../../src/backup/manifest.js';
import { sha256File } from '../../src/backup/backup.js';
import { listBackups } from '../../src/backup/periodic.js';
import { defaultPrimaryConfigPath } from '../../src/failover/primary-config.js';
import { toHex } from '../../src/hex.js';
import { LIFECYCLE_KEY } from '../../src/lifecycle.js';
import { PUBLISHED_TREE_HEAD_KEY, VERIFIED_SIZE_KEY } from '../../src/replication/replicator.js';
import { TreeStore } from '../../src/tree/store.js';
import { http, runCli, spawnCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { makeKey, prepareSecondary, startNodeProcess, tempDir, writeToml } from '../helpers/log-fixture.js';
import { makeLeaf, submitUntilPublished, type TestLeaf } from '../helpers/submitter.js';
import { prepareCluster } from '../replication/fixture.js';
import { internalHead, repoint, startPrimary } from '../failover/fixture.js';
import { publishedHead, seedTree, signedLeaves, startSeededPrimary, waitForPublished } from './fixture.js';

function readManifest(dir: string): BackupManifest {
  return parseManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'));
}

test('backup: an online copy of a primary under load is consistent; periodic backups keep the newest and clean up an unfinished one', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const backups = join(dir.path, 'backups');
  mkdirSync(join(backups, '.partial-backup-2026-01-01T00-00-00.000Z'), { recursive: true });
  writeFileSync(join(backups, '.partial-backup-2026-01-01T00-00-00.000Z', 'log.db'), 'half a database');
  const source = await startSeededPrimary(dir.path, 20_000, {
    // the periodic backups are configured in the config file the primary reads at start
  });
  await source.proc.stop();
  appendFileSync(source.setup.config, `\n[backup]\ndir = ${JSON.stringify(backups)}\ninterval = "1s"\nkeep = 2\n`);
  const proc: NodeProcess = await startNodeProcess('primary', source.setup);
  t.after(() => proc.kill9());
  await proc.waitForOutput(/periodic backups into .* every 1000 ms, keeping 2/);

  // Leaves are added while the backup runs.
  const load = submitUntilPublished(source.setup.publicUrl, Array.from({ length: 300 }, () => makeLeaf(source.submitter)), 60_000, 8);
  const out = join(dir.path, 'manual');
  const r = await runCli(['backup', '--config', source.setup.config, '--out', out], 60_000);
  assert.equal(r.code, 0, r.output);
  await load;
  const m = readManifest(out);
  assert.match(r.output, new RegExp(`tree size ${m.tree.size} root ${m.tree.root}, lifecycle appending, published tree head size \\d+ \\(sth-file\\)`));
  assert.equal(m.lifecycle, 'appending');
  assert.ok(m.tree.size >= 20_000);
  assert.ok(m.publishedHead !== null && m.publishedHead.size <= m.tree.size && m.publishedHead.source === 'sth-file');
  assert.deepEqual(m.files.map((f) => f.name).sort(), ['log.db', 'sth']);
  for (const f of m.files) assert.equal(await sha256File(join(out, f.name)), f.sha256, `${f.name} hash`);
  assert.deepEqual(readdirSync(out).sort(), ['log.db', 'manifest.json', 'sth'], 'no -wal or temporary files left');

  // The copy is one snapshot: its root at its size is the live tree's root at that size.
  const copy = TreeStore.open(join(out, 'log.db'));
  const live = TreeStore.open(source.setup.dbFile);
  try {
    assert.equal(copy.size(), m.tree.size);
    assert.equal(toHex(copy.rootAt(m.tree.size)), m.tree.root);
    assert.equal(toHex(live.rootAt(m.tree.size)), m.tree.root, 'the copy is a prefix of the live tree');
    assert.equal(toHex(copy.rootAt(m.publishedHead.size)), m.publishedHead.root);
  } finally {
    copy.close();
    live.close();
  }
  assert.deepEqual(readdirSync(out).sort(), ['log.db', 'manifest.json', 'sth']);

  // Periodic: after a few runs exactly `keep` finished backups, the unfinished one gone.
  await waitUntil('three periodic backups', () => ((proc.output.match(/backup: \S+backup-\S+ \(tree size/g) ?? []).length >= 3 ? true : undefined), 60_000, 100);
  assert.match(proc.output, /removed \S+\.partial-backup-2026-01-01T00-00-00\.000Z, an unfinished backup/);
  assert.match(proc.output, /removed \S+ \(keep = 2\)/);
  // A periodic backup taken after the load covers its leaves; older ones are pruned to `keep`.
  const newest = await waitUntil('a periodic backup with the new leaves', () => {
    const all = listBackups(backups);
    const last = all.at(-1);
    return last !== undefined && readManifest(join(backups, last)).tree.size >= 20_300 ? last : undefined;
  }, 60_000, 100);
  await waitUntil('retention: keep = 2 finished backups', () => (listBackups(backups).length === 2 ? true : undefined), 60_000, 20);
  assert.ok(!readdirSync(backups).some((n) => n.startsWith('.partial-backup-2026-01-01')), 'the unfinished backup was removed');
  assert.equal(readManifest(join(backups, newest)).lifecycle, 'appending');
  assert.equal(await proc.stop(), 0);
});

test('backup and restore: bad input', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  // A stopped primary's files (a backup of a stopped node works the same).
  const source = await startSeededPrimary(dir.path, 100);
  await source.proc.stop();
  const good = join(dir.path, 'good');
  const first = await runCli(['backup', '--config', source.setup.config, '--out', good]);
  assert.equal(first.code, 0, first.output);

  const copyOf = (name: string, change?: (d: string) => void): string => {
    const d = join(dir.path, name);
    mkdirSync(d);
    for (const f of readdirSync(good)) writeFileSync(join(d, f), readFileSync(join(good, f)));
    change?.(d);
    return d;
  };
  const tampered = copyOf('tampered', (d) => {
    const db = readFileSync(join(d, 'log.db'));
    db[db.length - 100] ^= 0x01;
    writeFileSync(join(d, 'log.db'), db);
  });
  const tamperedSth = copyOf('tampered-sth', (d) => writeFileSync(join(d, 'sth'), readFileSync(join(d, 'sth'), 'utf8').replace(/size=(\d+)/, 'size=99')));
  const noManifest = copyOf('no-manifest', (d) => rmSync(join(d, 'manifest.json')));
  const badManifest = copyOf('bad-manifest', (d) => writeFileSync(join(d, 'manifest.json'), '{"format": "something-else"}'));
  const missingFile = copyOf('missing-file', (d) => rmSync(join(d, 'sth')));
  const unfinished = join(dir.path, 'unfinished');
  mkdirSync(unfinished);
  writeFileSync(join(unfinished, 'log.db'), 'partial');
  const aFile = join(dir.path, 'a-file');
  writeFileSync(aFile, 'x');

  const restoreConfig = (name: string, dbFile?: string): string => {
    const config = join(dir.path, `${name}.toml`);
    const keyFile = join(dir.path, `${name}.key`);
    makeKey(keyFile);
    writeToml(config, { 'key-file': keyFile, 'db-file': dbFile ?? join(dir.path, `${name}.db`) }, { secondary: { 'log-pubkey-file': `${source.setup.keyFile}.pub` } });
    return config;
  };
  const existing = restoreConfig('existing', source.setup.dbFile);
  const noDbConfig = join(dir.path, 'nodb.toml');
  writeToml(noDbConfig, { 'key-file': source.setup.keyFile, 'db-file': join(dir.path, 'absent.db') });
  const cfg = restoreConfig('target');
  const noDirCfg = restoreConfig('nodir', join(dir.path, 'missing-dir', 'x.db'));

  const notADb = join(dir.path, 'not-a-db.db');
  writeFileSync(notADb, 'this is not an SQLite database\n');
  const notADbConfig = join(dir.path, 'notadb.toml');
  writeToml(notADbConfig, { 'key-file': source.setup.keyFile, 'db-file': notADb });
  const badRateConfig = join(dir.path, 'bad-rate.toml');
  writeFileSync(badRateConfig, `${readFileSync(source.setup.config, 'utf8')}\n[backup]\nmax-rate = -4\n`);
  const rate = (value: string): string[] => ['backup', '--config', source.setup.config, '--out', join(dir.path, 'x-rate'), '--max-rate', value];
  const cases: Array<{ name: string; args: string[]; code: number; output: RegExp }> = [
    { name: 'backup --help', args: ['backup', '--help'], code: 0, output: /--out <dir>[\s\S]*--max-rate <MiB\/s>/ },
    { name: 'backup --max-rate negative', args: rate('-1'), code: 2, output: /--max-rate must be a whole number of MiB\/s from 0 \(no limit\) to 100000, got "-1"/ },
    { name: 'backup --max-rate fractional', args: rate('1.5'), code: 2, output: /--max-rate must be a whole number of MiB\/s .*, got "1\.5"/ },
    { name: 'backup --max-rate with a unit', args: rate('16M'), code: 2, output: /--max-rate must be a whole number of MiB\/s .*, got "16M"/ },
    { name: 'backup --max-rate too large', args: rate('100001'), code: 2, output: /--max-rate must be a whole number of MiB\/s from 0 \(no limit\) to 100000, got "100001"/ },
    { name: 'backup --max-rate without a value', args: ['backup', '--config', source.setup.config, '--out', join(dir.path, 'x-rate'), '--max-rate'], code: 2, output: /option '--max-rate <MiB\/s>' argument missing/ },
    { name: 'backup: [backup] max-rate out of range in the config', args: ['backup', '--config', badRateConfig, '--out', join(dir.path, 'x-rate')], code: 2, output: /"backup.max-rate" must be zero or more, got -4/ },
    { name: 'backup without --config', args: ['backup', '--out', join(dir.path, 'x1')], code: 2, output: /--config is required/ },
    { name: 'backup without --out', args: ['backup', '--config', source.setup.config], code: 2, output: /--out is required/ },
    { name: 'backup unknown option', args: ['backup', '--config', source.setup.config, '--out', join(dir.path, 'x2'), '--fast'], code: 2, output: /unknown option/ },
    { name: 'backup config missing', args: ['backup', '--config', join(dir.path, 'none.toml'), '--out', join(dir.path, 'x3')], code: 2, output: /cannot read config file/ },
    { name: 'backup into a backup', args: ['backup', '--config', source.setup.config, '--out', good], code: 1, output: /REFUSED: .* is not empty \(it holds a backup\)/ },
    { name: 'backup into an unfinished one', args: ['backup', '--config', source.setup.config, '--out', unfinished], code: 1, output: /not empty \(it has no manifest\.json: an unfinished backup/ },
    { name: 'backup into a file', args: ['backup', '--config', source.setup.config, '--out', aFile], code: 1, output: /is not a directory/ },
    { name: 'backup without a database', args: ['backup', '--config', noDbConfig, '--out', join(dir.path, 'x4')], code: 1, output: /there is no database at/ },
    { name: 'backup of a file that is not a database', args: ['backup', '--config', notADbConfig, '--out', join(dir.path, 'x5')], code: 2, output: /not-a-db\.db: cannot open the database: file is not a database/ },
    { name: 'restore --help', args: ['restore', '--help'], code: 0, output: /--from <dir>/ },
    { name: 'restore without --from', args: ['restore', '--config', cfg], code: 2, output: /--from is required/ },
    { name: 'restore without --config', args: ['restore', '--from', good], code: 2, output: /--config is required/ },
    { name: 'restore: no manifest', args: ['restore', '--from', noManifest, '--config', cfg], code: 1, output: /has no manifest\.json: it is not a finished backup/ },
    { name: 'restore: unfinished', args: ['restore', '--from', unfinished, '--config', cfg], code: 1, output: /has no manifest\.json/ },
    { name: 'restore: bad manifest', args: ['restore', '--from', badManifest, '--config', cfg], code: 1, output: /manifest\.json: format is "something-else"/ },
    { name: 'restore: tampered database', args: ['restore', '--from', tampered, '--config', cfg], code: 1, output: /log\.db has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}; the backup is damaged/ },
    { name: 'restore: tampered sth file', args: ['restore', '--from', tamperedSth, '--config', cfg], code: 1, output: /sth has (\d+ bytes|SHA-256)/ },
    { name: 'restore: listed file missing', args: ['restore', '--from', missingFile, '--config', cfg], code: 1, output: /sth is listed in the manifest but missing/ },
    { name: 'restore into a missing directory', args: ['restore', '--from', good, '--config', noDirCfg], code: 1, output: /the directory of db-file .* does not exist/ },
    { name: 'restore over an existing database', args: ['restore', '--from', good, '--config', existing], code: 1, output: /exists; restore never overwrites a database/ },
  ];
  for (const c of cases) {
    const r = await runCli(c.args, 60_000);
    assert.equal(r.code, c.code, `${c.name}: exit ${r.code}\n${r.output}`);
    assert.match(r.output, c.output, c.name);
    assert.doesNotMatch(r.output, /at .*\.js:\d+/, `${c.name}: no stack trace`);
  }
  assert.ok(!existsSync(join(dir.path, 'target.db')), 'no refused restore installed a database');
  assert.ok(!existsSync(join(dir.path, 'x-rate')), 'no refused backup wrote anything');
  const original = TreeStore.open(source.setup.dbFile);
  assert.equal(original.size(), 100, 'the existing database was not touched');
  original.close();

  // And the good backup restores.
  const ok = await runCli(['restore', '--from', good, '--config', cfg]);
  assert.equal(ok.code, 0, ok.output);
  const restored = TreeStore.open(join(dir.path, 'target.db'));
  try {
    assert.equal(restored.getMeta(LIFECYCLE_KEY), 'replica');
    assert.equal(restored.getMeta(VERIFIED_SIZE_KEY), '100');
    assert.ok(restored.getMeta(PUBLISHED_TREE_HEAD_KEY) !== undefined);
  } finally {
    restored.close();
  }
  assert.ok(existsSync(join(dir.path, 'target.restored.sth')));
  assert.ok(!existsSync(join(dir.path, 'target.db.restoring')));
});

test('restore a primary from backup: backup under load, primary destroyed, restore, catch-up from the secondary, promotion, every 200 present', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary: p, secondaries } = await prepareCluster(dir.path, { secondaries: 1, primaryInterval: '300ms', secondaryInterval: '100ms', logPubkey: true });
  const s = secondaries[0]!;
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  seedTree(p.dbFile, signedLeaves(submitter, 20_000));
  writeFileSync(`${p.sthFile}.startup`, 'startup=local-tree\n');
  let sProc = await startNodeProcess('secondary', s);
  t.after(() => sProc.kill9());
  const pProc = await startNodeProcess('primary', p);
  t.after(() => pProc.kill9());
  await waitForPublished(p.publicUrl, 20_000, 60_000);

  // Leaves answered 200 before, during and after the backup.
  const answered: TestLeaf[] = [];
  const batch = async (n: number): Promise<void> => {
    const leaves = Array.from({ length: n }, () => makeLeaf(submitter));
    await submitUntilPublished(p.publicUrl, leaves, 60_000, 8);
    answered.push(...leaves);
  };
  await batch(100);
  const backupDir = join(dir.path, 'backup');
  const during = batch(200);
  const b = await runCli(['backup', '--config', p.config, '--out', backupDir], 60_000);
  assert.equal(b.code, 0, b.output);
  await during;
  // A running secondary backs up the same way; its published head is its own verified record.
  const sBackup = await runCli(['backup', '--config', s.config, '--out', join(dir.path, 'secondary-backup')], 60_000);
  assert.equal(sBackup.code, 0, sBackup.output);
  const sm = readManifest(join(dir.path, 'secondary-backup'));
  assert.equal(sm.lifecycle, 'replica');
  assert.deepEqual(sm.files.map((f) => f.name), ['log.db']);
  assert.ok(sm.publishedHead !== null && sm.publishedHead.source === 'replica-record' && sm.publishedHead.size <= sm.tree.size, JSON.stringify(sm));
  await batch(100); // not in the backup: only the secondary has these
  const backupSize = readManifest(backupDir).tree.size;
  const final = await publishedHead(p.publicUrl);
  assert.ok(final.size > backupSize, `the log grew after the backup (${backupSize} → ${final.size})`);

  // The primary's machine is lost: process and files.
  await pProc.kill9();
  for (const f of readdirSync(dir.path)) if (f.startsWith('primary.db') || f.startsWith('primary.sth')) rmSync(join(dir.path, f));

  // Restore onto a new node that replicates from the surviving secondary.
  const r = await prepareSecondary(dir.path, { primaryUrl: s.internalUrl, interval: '100ms', logPubkeyFile: `${p.keyFile}.pub` }, 'restored');
  const restore = await runCli(['restore', '--from', backupDir, '--config', r.config], 60_000);
  assert.equal(restore.code, 0, restore.output);
  assert.match(restore.output, /installed .* in the replica state/);
  const sthCopy = /the backup's sth file is at (\S+)/.exec(restore.output)?.[1] as string;
  assert.ok(sthCopy !== undefined && existsSync(sthCopy), restore.output);

  // A restored database is never a primary's: starting it as one is refused.
  const asPrimary = join(dir.path, 'restored-as-primary.toml');
  writeToml(asPrimary, { 'key-file': p.keyFile, 'db-file': r.dbFile, 'external-endpoint': `127.0.0.1:${r.publicPort}`, 'internal-endpoint': `127.0.0.1:${r.internalPort}` }, { primary: { 'sth-file': join(dir.path, 'x.sth') } });
  const refused = await runCli(['--role', 'primary', '--config', asPrimary], 30_000);
  assert.equal(refused.code, 2, refused.output);
  assert.match(refused.output, /secondary's database \(lifecycle state replica\)/);

  const sHead = await internalHead(s.internalUrl);
  assert.equal(sHead.size, final.size, 'the secondary holds the whole published tree');
  const rProc = await startNodeProcess('secondary', r);
  t.after(() => rProc.kill9());
  await waitUntil('the restored node catches up from the secondary', async () => ((await internalHead(r.internalUrl)).size === sHead.size ? true : undefined), 60_000);
  assert.equal(toHex((await internalHead(r.internalUrl)).rootHash), toHex(sHead.rootHash));
  await rProc.stop();

  const promotion = await runCli([
    'promote-secondary', '--config', r.config, '--log-key-file', p.keyFile,
    '--published-head', sthCopy, '--peer', s.internalUrl,
    '--secondary-url', s.internalUrl, '--secondary-pubkey-file', `${s.keyFile}.pub`,
  ], 60_000);
  assert.equal(promotion.code, 0, promotion.output);
  const newPrimary = await startPrimary(defaultPrimaryConfigPath(r.config), 'restored primary');
  t.after(() => newPrimary.kill9());
  await sProc.stop();
  repoint(s.config, r.internalUrl);
  sProc = await startNodeProcess('secondary', s);

  // Every leaf answered 200 by the old primary is in the new primary's published tree.
  const head = await waitForPublished(r.publicUrl, final.size, 60_000);
  for (const l of answered) {
    const res = await http(`${r.publicUrl}/get-inclusion-proof/${head.size}/${toHex(l.leafHash)}`);
    assert.equal(res.status, 200, `leaf ${toHex(l.leafHash)}: ${res.status} ${res.body}`);
  }
  // And the restored primary takes new leaves.
  await submitUntilPublished(r.publicUrl, [makeLeaf(submitter)], 60_000);
});

test('backup: killed with -9 mid-copy, the directory has no manifest, is never restored, and is refused as a target', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  // A secondary's database (no sth file), large enough that the copy takes a while.
  const dbFile = join(dir.path, 'node.db');
  const store = TreeStore.open(dbFile);
  for (let i = 0; i < 200_000; i += 10_000) {
    const bytes = randomBytes(128 * 10_000);
    store.appendLeaves(Array.from({ length: 10_000 }, (_v, j) => new Uint8Array(bytes.subarray(128 * j, 128 * (j + 1)))));
  }
  store.setMeta(LIFECYCLE_KEY, 'replica');
  store.close();
  const config = join(dir.path, 'node.toml');
  writeToml(config, { 'key-file': join(dir.path, 'node.key'), 'db-file': dbFile });
  makeKey(join(dir.path, 'node.key'));

  const out = join(dir.path, 'out');
  const backup = spawnCli(['backup', '--config', config, '--out', out], { name: 'backup (killed)' });
  t.after(() => backup.kill9());
  await waitUntil('the copy has begun', () => (existsSync(join(out, 'log.db')) && statSync(join(out, 'log.db')).size > 0 ? true : undefined), 60_000, 2);
  await backup.kill9();
  assert.ok(!existsSync(join(out, 'manifest.json')), 'no manifest: the backup did not finish');

  const restoreCfg = join(dir.path, 'restored.toml');
  writeToml(restoreCfg, { 'key-file': join(dir.path, 'node.key'), 'db-file': join(dir.path, 'restored.db') });
  const restore = await runCli(['restore', '--from', out, '--config', restoreCfg]);
  assert.equal(restore.code, 1, restore.output);
  assert.match(restore.output, /has no manifest\.json: it is not a finished backup/);
  assert.ok(!existsSync(join(dir.path, 'restored.db')));
  const again = await runCli(['backup', '--config', config, '--out', out]);
  assert.equal(again.code, 1, again.output);
  assert.match(again.output, /an unfinished backup, which is never restored; remove it/);

  // Removed as told, the backup runs to the end and restores.
  rmSync(out, { recursive: true });
  const ok = await runCli(['backup', '--config', config, '--out', out], 120_000);
  assert.equal(ok.code, 0, ok.output);
  const restored = await runCli(['restore', '--from', out, '--config', restoreCfg], 120_000);
  assert.equal(restored.code, 0, restored.output);
  const r = TreeStore.open(join(dir.path, 'restored.db'));
  assert.equal(r.size(), 200_000);
  r.close();
});
