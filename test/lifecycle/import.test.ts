// sigsum-log import against real processes: a running primary's public API
// (while leaves are added), kill -9 and resume, sources that lie about a
// leaf or a root, and the command's bad-input table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { formatConsistencyProof, formatCosignedTreeHead, formatEncodedLeaves, parseCosignedTreeHead } from '../../src/formats/messages.js';
import { toHex } from '../../src/hex.js';
import { TREE_MODE_KEY } from '../../src/node-common.js';
import { PUBLISHED_TREE_HEAD_KEY, VERIFIED_SIZE_KEY } from '../../src/replication/replicator.js';
import { TreeStore } from '../../src/tree/store.js';
import { freePort, runCli, spawnCli, waitUntil } from '../helpers/node-process.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { InterceptingProxy, publishedHead, runImport, signedLeaves, startSeededPrimary, waitForPublished, writeImportConfig } from './fixture.js';

/** The stored size of a database another process writes, read without touching it. */
function storedSize(dbFile: string): number {
  if (!existsSync(dbFile)) return 0;
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT value FROM tree_state WHERE name = 'size'").pluck().get() as number | undefined;
    return row ?? 0;
  } catch {
    return 0; // schema not created yet
  } finally {
    db.close();
  }
}

/** The imported database equals the source's: same leaves at the same indices, verified and published head recorded. */
function assertImported(dbFile: string, sourceDb: string, size: number): void {
  const mine = TreeStore.open(dbFile);
  const theirs = TreeStore.open(sourceDb);
  try {
    assert.equal(mine.size(), size);
    assert.equal(mine.getMeta(TREE_MODE_KEY), 'replica');
    assert.equal(mine.getMeta(VERIFIED_SIZE_KEY), String(size));
    const published = parseCosignedTreeHead(mine.getMeta(PUBLISHED_TREE_HEAD_KEY) as string);
    assert.equal(published.size, size);
    assert.equal(toHex(published.rootHash), toHex(theirs.rootAt(size)));
    for (let i = 0; i < size; i += 4096) {
      const end = Math.min(size, i + 4096);
      assert.deepEqual(mine.leaves(i, end).map((l) => toHex(l)), theirs.leaves(i, end).map((l) => toHex(l)), `leaves [${i}, ${end})`);
    }
  } finally {
    mine.close();
    theirs.close();
  }
}

test('import: copies a running primary while leaves are added, follows it, and a rerun is a no-op', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const source = await startSeededPrimary(dir.path, 3000);
  t.after(() => source.proc.kill9());
  const target = writeImportConfig(dir.path, 'imported', `${source.setup.keyFile}.pub`);

  const follower = spawnCli(['import', '--config', target.config, '--from', source.setup.publicUrl, '--follow'], { name: 'import --follow' });
  t.after(() => follower.kill9());
  await follower.waitForOutput(/caught up: size 3000 /, 60_000);
  // Leaves are added while it follows.
  const more = Array.from({ length: 300 }, () => makeLeaf(source.submitter));
  await submitUntilPublished(source.setup.publicUrl, more, 60_000, 16);
  const final = await waitForPublished(source.setup.publicUrl, 3300);
  await follower.waitForOutput(new RegExp(`caught up: size ${final.size} root ${toHex(final.rootHash)}`), 60_000);
  assert.equal(await follower.stop(), 0, `import --follow stops cleanly on SIGTERM:\n${follower.output}`);
  assertImported(target.dbFile, source.setup.dbFile, final.size);

  const again = await runImport(target.config, source.setup.publicUrl);
  assert.equal(again.code, 0, again.output);
  assert.match(again.output, new RegExp(`resuming: the database holds ${final.size} leaves, ${final.size} verified`));
  assert.match(again.output, new RegExp(`caught up: size ${final.size} root ${toHex(final.rootHash)}`));
});

test('import: killed with -9 mid-import, a rerun resumes and re-checks the unverified leaves', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const source = await startSeededPrimary(dir.path, 30_000);
  t.after(() => source.proc.kill9());
  const proxy = await InterceptingProxy.start(source.setup.publicUrl);
  t.after(() => proxy.close());
  const target = writeImportConfig(dir.path, 'imported', `${source.setup.keyFile}.pub`);

  // Serve 40 pages of 512 (two commits of 8192 leaves), then stall: the kill
  // comes while leaves are stored but none verified.
  proxy.holdLeavesAfter(40);
  const first = spawnCli(['import', '--config', target.config, '--from', proxy.url], { name: 'import (killed)' });
  t.after(() => first.kill9());
  await waitUntil('the import stores leaves', () => (storedSize(target.dbFile) >= 16_384 ? true : undefined), 60_000, 50);
  await first.kill9();
  const stored = storedSize(target.dbFile);
  assert.ok(stored >= 16_384 && stored < 30_000, `killed mid-import with ${stored} leaves stored`);

  proxy.release();
  const resumed = await runImport(target.config, proxy.url);
  assert.equal(resumed.code, 0, resumed.output);
  assert.match(resumed.output, new RegExp(`resuming: the database holds ${stored} leaves, 0 verified against a log-signed head; the ${stored} past it are compared with the source's again`));
  const head = await publishedHead(source.setup.publicUrl);
  assert.match(resumed.output, new RegExp(`caught up: size 30000 root ${toHex(head.rootHash)}`));
  const pages = proxy.requests.filter((p) => p.startsWith('/get-leaves/'));
  assert.ok(pages.some((p) => p === '/get-leaves/0/8192' || p.startsWith('/get-leaves/0/')), 'the rerun fetched from index 0 again (nothing was verified)');
  assertImported(target.dbFile, source.setup.dbFile, 30_000);
});

test('import: a source serving a different leaf is refused with the index, and nothing is overwritten', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const source = await startSeededPrimary(dir.path, 2000);
  t.after(() => source.proc.kill9());
  const proxy = await InterceptingProxy.start(source.setup.publicUrl);
  t.after(() => proxy.close());
  const target = writeImportConfig(dir.path, 'imported', `${source.setup.keyFile}.pub`);
  const [other] = signedLeaves(makeKey(join(dir.path, 'other.key')), 1) as [Uint8Array];

  // Index 1234 is replaced in any get-leaves answer that covers it.
  proxy.intercept = (path, body) => {
    const m = /^\/get-leaves\/(\d+)\/(\d+)$/.exec(path);
    if (m === null || body === '') return undefined;
    const start = Number(m[1]);
    const lines = body.split('\n');
    const at = 1234 - start;
    if (at < 0 || at >= lines.length - 1) return undefined;
    lines[at] = formatEncodedLeaves([other]).trimEnd();
    return lines.join('\n');
  };
  const lied = await runImport(target.config, proxy.url);
  assert.equal(lied.code, 1, lied.output);
  assert.match(lied.output, /REFUSED: .*changed history: the leaf it served for index 1234 is not the one in the tree its log signed at size 2000/);
  const db = TreeStore.open(target.dbFile);
  try {
    assert.equal(db.getMeta(VERIFIED_SIZE_KEY), undefined, 'nothing was verified');
    assert.equal(db.getMeta(PUBLISHED_TREE_HEAD_KEY), undefined, 'no published head was recorded');
  } finally {
    db.close();
  }

  // The honest source, rerun: the stored leaf at 1234 is compared, differs, and is not overwritten.
  const rerun = await runImport(target.config, source.setup.publicUrl);
  assert.equal(rerun.code, 1, rerun.output);
  assert.match(rerun.output, /its leaf at index 1234 differs from the one stored here. Nothing stored was overwritten/);
  assert.match(rerun.output, /secondary-truncate --to-size 0/);
});

test('import: a source whose signed head rewrites verified history is refused with the first differing index', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const source = await startSeededPrimary(dir.path, 2000);
  t.after(() => source.proc.kill9());
  const target = writeImportConfig(dir.path, 'imported', `${source.setup.keyFile}.pub`);
  const honest = await runImport(target.config, source.setup.publicUrl);
  assert.equal(honest.code, 0, honest.output);

  // A fork, signed with the log's own key: leaf 700 replaced, 500 leaves added.
  const forkDb = join(dir.path, 'fork.db');
  const fork = TreeStore.open(forkDb);
  const [other] = signedLeaves(makeKey(join(dir.path, 'other.key')), 1) as [Uint8Array];
  fork.appendPreordered(0, [...source.leaves.slice(0, 700), other, ...source.leaves.slice(701), ...signedLeaves(source.submitter, 500)]);
  const forkHead = { ...signTreeHead(source.setup.signer, { size: 2500, rootHash: fork.rootAt(2500) }), cosignatures: [] };
  const proxy = await InterceptingProxy.start(source.setup.publicUrl);
  t.after(() => proxy.close());
  t.after(() => fork.close());
  proxy.intercept = (path) => {
    if (path === '/get-tree-head') return formatCosignedTreeHead(forkHead);
    let m = /^\/get-leaves\/(\d+)\/(\d+)$/.exec(path);
    if (m !== null) return formatEncodedLeaves(fork.leaves(Number(m[1]), Math.min(2500, Number(m[2]), Number(m[1]) + 512)));
    m = /^\/get-consistency-proof\/(\d+)\/(\d+)$/.exec(path);
    if (m !== null) return formatConsistencyProof(fork.consistencyProof(Number(m[1]), Number(m[2])));
    return undefined;
  };
  const lied = await runImport(target.config, proxy.url);
  assert.equal(lied.code, 1, lied.output);
  assert.match(lied.output, /REFUSED: .*changed history: its log-signed tree head of size 2500 does not extend the one of size 2000 verified before; the first leaf that differs is at index 700/);
  const db = TreeStore.open(target.dbFile);
  try {
    assert.equal(db.getMeta(VERIFIED_SIZE_KEY), '2000');
    assert.equal(parseCosignedTreeHead(db.getMeta(PUBLISHED_TREE_HEAD_KEY) as string).size, 2000, 'the published head recorded stays');
    assert.equal(toHex(db.leafAt(700)), toHex(source.leaves[700] as Uint8Array), 'leaf 700 is the log\'s');
  } finally {
    db.close();
  }
});

test('import: bad input and usage', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const source = await startSeededPrimary(dir.path, 10);
  t.after(() => source.proc.kill9());
  const good = writeImportConfig(dir.path, 'good', `${source.setup.keyFile}.pub`);
  const noKey = writeImportConfig(dir.path, 'nokey', undefined);
  const otherLog = makeKey(join(dir.path, 'other-log.key'));
  void otherLog;
  const wrongKey = writeImportConfig(dir.path, 'wrongkey', join(dir.path, 'other-log.key.pub'));
  const onPrimaryDb = writeImportConfig(dir.path, 'primarydb', `${source.setup.keyFile}.pub`);
  const noDir = writeImportConfig(dir.path, 'nodir', `${source.setup.keyFile}.pub`, { 'db-file': join(dir.path, 'missing-dir', 'x.db') });
  const primaryDb = TreeStore.open(onPrimaryDb.dbFile); // a primary's database (sequencing mode)
  primaryDb.setMeta(TREE_MODE_KEY, 'sequencing');
  primaryDb.close();
  const inUse = writeImportConfig(dir.path, 'inuse', `${source.setup.keyFile}.pub`, { 'db-file': source.setup.dbFile }); // the running source's own database
  const deadUrl = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  const notADb = writeImportConfig(dir.path, 'notadb', `${source.setup.keyFile}.pub`);
  writeFileSync(notADb.dbFile, 'this is not an SQLite database\n');
  const cases: Array<{ name: string; args: string[]; code: number; output: RegExp }> = [
    { name: '--help', args: ['import', '--help'], code: 0, output: /--from <url>/ },
    { name: 'no --config', args: ['import', '--from', source.setup.publicUrl], code: 2, output: /--config is required/ },
    { name: 'no --from', args: ['import', '--config', good.config], code: 2, output: /--from is required/ },
    { name: 'unknown option', args: ['import', '--config', good.config, '--from', source.setup.publicUrl, '--frobnicate'], code: 2, output: /unknown option/ },
    { name: '--from not a URL', args: ['import', '--config', good.config, '--from', 'not a url'], code: 2, output: /--from: "not a url" is not a URL/ },
    { name: '--from ftp', args: ['import', '--config', good.config, '--from', 'ftp://127.0.0.1/'], code: 2, output: /only http and https/ },
    { name: 'config missing', args: ['import', '--config', join(dir.path, 'none.toml'), '--from', source.setup.publicUrl], code: 2, output: /cannot read config file/ },
    { name: 'no log-pubkey-file', args: ['import', '--config', noKey.config, '--from', source.setup.publicUrl], code: 2, output: /log-pubkey-file is not set/ },
    { name: 'db-file in a missing directory', args: ['import', '--config', noDir.config, '--from', source.setup.publicUrl], code: 2, output: /the directory of db-file .* does not exist/ },
    { name: 'db-file not a database', args: ['import', '--config', notADb.config, '--from', source.setup.publicUrl], code: 2, output: /notadb\.db: cannot open the database: file is not a database/ },
    { name: 'a database a running node has open', args: ['import', '--config', inUse.config, '--from', source.setup.publicUrl], code: 2, output: /is in use: a node \(or another program\) has it open/ },
    { name: "a primary's database", args: ['import', '--config', onPrimaryDb.config, '--from', source.setup.publicUrl], code: 2, output: /is a primary's database/ },
    { name: 'another log\'s key', args: ['import', '--config', wrongKey.config, '--from', source.setup.publicUrl], code: 1, output: /REFUSED: the tree head of size 10 .* is not signed by the log's key/ },
    { name: 'source unreachable', args: ['import', '--config', good.config, '--from', deadUrl], code: 1, output: /cannot read http:\/\/127\.0\.0\.1:\d+ \(3 attempts\); run the same command again to resume/ },
    { name: 'a node API that is not a log', args: ['import', '--config', good.config, '--from', `${source.setup.publicUrl}/nothing-here`], code: 1, output: /cannot read/ },
  ];
  for (const c of cases) {
    const r = await runCli(c.args, 60_000);
    assert.equal(r.code, c.code, `${c.name}: exit ${r.code}\n${r.output}`);
    assert.match(r.output, c.output, c.name);
    assert.doesNotMatch(r.output, /at .*\.js:\d+/, `${c.name}: no stack trace`);
  }
  assert.equal(existsSync(good.dbFile) ? storedSize(good.dbFile) : 0, 0, 'the failed runs stored nothing');
});
