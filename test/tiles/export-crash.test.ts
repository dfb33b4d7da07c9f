// The static export is crash-safe and resumable: a primary killed (kill -9)
// in the middle of its first, large export leaves no checkpoint naming
// missing tiles; restarted, it completes the export at its next head, and
// verify-tiles then passes. A read replica with tiles-dir exports the
// published heads it verified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSigsumCheckpointNote } from '../../src/formats/signed-note.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { runCli, spawnCli, waitUntil } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { prepareCluster, randomLeaves, treeWith } from '../replication/fixture.js';
import { readFileSync } from 'node:fs';

test('tiles-dir: kill -9 in the middle of an export; the restarted primary completes it and verify-tiles passes', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const tilesDir = join(dir.path, 'tiles');
  const SIZE = 300_000;
  const setup = await preparePrimary(dir.path, { interval: '500ms', top: { 'tiles-dir': tilesDir } });
  treeWith(setup.dbFile, randomLeaves(SIZE), 20_000).close();
  writeFileSync(`${setup.sthFile}.startup`, 'startup=local-tree\n');

  // Watch for the first exported tile, then kill at once: ~2,300 files, each fsync'd, take a while.
  const first = spawnCli(['--role', 'primary', '--config', setup.config], { name: 'primary (to be killed)' });
  t.after(() => first.kill9());
  await waitUntil('the export has begun', () => (existsSync(join(tilesDir, 'tile', '0')) && readdirSync(join(tilesDir, 'tile', '0')).length > 3 ? true : undefined), 60_000, 5);
  await first.kill9();
  assert.ok(!existsSync(join(tilesDir, 'checkpoint')), 'killed before the checkpoint: nothing names missing tiles');

  const second = await startNodeProcess('primary', setup);
  t.after(() => second.kill9());
  const pub = `${setup.keyFile}.pub`;
  await waitUntil('the export completes', () => {
    try {
      return parseSigsumCheckpointNote(readFileSync(join(tilesDir, 'checkpoint')), setup.signer.publicKey).size === SIZE ? true : undefined;
    } catch {
      return undefined;
    }
  }, 120_000, 100);
  // Check it through the node's own tile endpoints and against the directory's checkpoint.
  const run = await runCli(['verify-tiles', '--url', setup.publicUrl, '--log-pubkey-file', pub, '--since', join(tilesDir, 'checkpoint')], 120_000);
  assert.equal(run.code, 0, run.output);
  // The directory itself: every resource the checkpoint names is a file, with the bytes the node serves.
  for (const path of ['tile/0/000', 'tile/0/x001/171', 'tile/0/x001/171.p/224', 'tile/1/004', 'tile/1/004.p/147', 'tile/2/000.p/4', 'tile/entries/x001/171.p/224']) {
    const res = await fetch(`${setup.publicUrl}/${path}`, { headers: { 'accept-encoding': 'identity' } });
    const body = Buffer.from(await res.arrayBuffer());
    if (/\/x001\/171$|\/004$/.test(path)) {
      assert.equal(res.status, 404, `${path}: not a full tile at size ${SIZE}`);
      assert.ok(!existsSync(join(tilesDir, path)), path);
      continue;
    }
    assert.equal(res.status, 200, path);
    assert.ok(readFileSync(join(tilesDir, path)).equals(body), `${path}: same bytes on disk and over HTTP`);
  }
});

test('tiles-dir on a read replica: it exports the published heads it verified', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const tilesDir = join(dir.path, 'replica-tiles');
  const { primary, secondaries } = await prepareCluster(dir.path, { secondaries: 1, logPubkey: true });
  const replica = secondaries[0]!;
  writeFileSync(replica.config, `tiles-dir = ${JSON.stringify(tilesDir)}\n` + readFileSync(replica.config, 'utf8'));
  const replicaProc = await startNodeProcess('secondary', replica);
  t.after(() => replicaProc.kill9());
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  await submitUntilPublished(primary.publicUrl, Array.from({ length: 600 }, () => makeLeaf(submitter)), 60_000);
  await waitUntil('the replica exported size 600', () => {
    try {
      return parseSigsumCheckpointNote(readFileSync(join(tilesDir, 'checkpoint')), primary.signer.publicKey).size === 600 ? true : undefined;
    } catch {
      return undefined;
    }
  }, 30_000, 100);
  const run = await runCli(['verify-tiles', '--url', primary.publicUrl, '--log-pubkey-file', `${primary.keyFile}.pub`, '--since', join(tilesDir, 'checkpoint')], 60_000);
  assert.equal(run.code, 0, run.output);
  assert.ok(readFileSync(join(tilesDir, 'tile/entries/001')).equals(Buffer.from(await (await fetch(`${replica.publicUrl}/tile/entries/001`, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer())));
  // Without log-pubkey-file a secondary has no published head to export: a config error at start.
  const plain = join(dir.path, 'plain.toml');
  writeFileSync(plain, readFileSync(replica.config, 'utf8').replace(/^log-pubkey-file = .*\n/m, '').replace(/^db-file = .*$/m, `db-file = ${JSON.stringify(join(dir.path, 'plain.db'))}`));
  const refused = await runCli(['--role', 'secondary', '--config', plain], 30_000);
  assert.equal(refused.code, 2, refused.output);
  assert.match(refused.output, /tiles-dir needs \[secondary\] log-pubkey-file/);
});
