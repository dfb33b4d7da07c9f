// The migration runbook of doc/failover.md, with real processes: a running
// log (a sigsum-log primary standing in for log-go) is copied with
// `import --follow` while it takes submissions, its writes stop, a final
// import catches up, the old primary stops, promote-secondary turns the
// import into the primary (the old sth file as --published-head), and the
// reference sigsum-submit / sigsum-verify accept proofs from the new primary
// for a leaf submitted before the migration and one after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseInclusionProof } from '../../src/formats/messages.js';
import { toHex } from '../../src/hex.js';
import { SthFile } from '../../src/storage/sth-file.js';
import { verifyInclusion } from '../../src/tree/verify.js';
import { leafHash } from '../../src/tree/hash.js';
import { freePort, http, runCli, spawnCli } from '../helpers/node-process.js';
import { tempDir } from '../helpers/log-fixture.js';
import { runTool, sigsumTools } from '../helpers/sigsum-tools.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { startPrimary } from '../failover/fixture.js';
import { publishedHead, runImport, startSeededPrimary, waitForPublished, writeImportConfig } from './fixture.js';

test('migration: import --follow, stop writes, final import, promote with the old sth file, and sigsum-verify accepts the new primary', async (t) => {
  const bin = sigsumTools(t);
  if (bin === undefined) return;
  const dir = tempDir();
  t.after(() => dir.remove());
  const old = await startSeededPrimary(dir.path, 2000);
  t.after(() => old.proc.kill9());
  const logKey = old.setup.signer.publicKey;

  // A file submitted to the old log with the reference client, before the migration.
  const submitKey = join(dir.path, 'submit.key');
  assert.equal((await runTool(bin, 'sigsum-key', ['generate', '-o', submitKey])).code, 0);
  const oldPolicy = join(dir.path, 'old.policy');
  writeFileSync(oldPolicy, `log ${toHex(logKey)} ${old.setup.publicUrl}\nquorum none\n`);
  const before = join(dir.path, 'before.txt');
  writeFileSync(before, 'submitted to the old log\n');
  const submitted = await runTool(bin, 'sigsum-submit', ['-k', submitKey, '-p', oldPolicy, before], { timeoutMs: 60_000 });
  assert.equal(submitted.code, 0, submitted.stderr);

  // 1. The new node imports and follows, while the old primary keeps taking leaves.
  const publicPort = await freePort();
  const internalPort = await freePort();
  const target = writeImportConfig(dir.path, 'new', `${old.setup.keyFile}.pub`, {
    'external-endpoint': `127.0.0.1:${publicPort}`,
    'internal-endpoint': `127.0.0.1:${internalPort}`,
  });
  const follower = spawnCli(['import', '--config', target.config, '--from', old.setup.publicUrl, '--follow'], { name: 'import --follow' });
  t.after(() => follower.kill9());
  const during = Array.from({ length: 200 }, () => makeLeaf(old.submitter));
  await submitUntilPublished(old.setup.publicUrl, during, 60_000, 16);

  // 2. The old log's writes stop (here: no more submissions); its last head covers every 200.
  const last = await waitForPublished(old.setup.publicUrl, 2201);
  await follower.waitForOutput(new RegExp(`caught up: size ${last.size} `), 60_000);
  assert.equal(await follower.stop(), 0, follower.output);

  // 3. The final import, then the old primary stops for good.
  const final = await runImport(target.config, old.setup.publicUrl);
  assert.equal(final.code, 0, final.output);
  assert.match(final.output, new RegExp(`caught up: size ${last.size} root ${toHex(last.rootHash)}`));
  assert.equal(await old.proc.stop(), 0);
  const sth = new SthFile(old.setup.sthFile).load();
  assert.equal(sth.size, last.size, "the old primary's sth file holds its last head");

  // 4. Promote, with the old sth file as a published head to check against.
  const promoted = await runCli(['promote-secondary', '--config', target.config, '--log-key-file', old.setup.keyFile, '--published-head', old.setup.sthFile], 60_000);
  assert.equal(promoted.code, 0, promoted.output);
  assert.match(promoted.output, /Published tree heads[\s\S]*ok/);
  // A backup now (promoted, not started yet) holds the startup file the promotion wrote.
  const backup = await runCli(['backup', '--config', join(dir.path, 'new-primary.toml'), '--out', join(dir.path, 'promoted-backup')], 60_000);
  assert.equal(backup.code, 0, backup.output);
  const manifest = JSON.parse(readFileSync(join(dir.path, 'promoted-backup', 'manifest.json'), 'utf8')) as { files: Array<{ name: string }>; lifecycle: string };
  assert.deepEqual(manifest.files.map((f) => f.name), ['log.db', 'sth.startup']);
  assert.equal(manifest.lifecycle, 'appending');
  assert.equal(readFileSync(join(dir.path, 'promoted-backup', 'sth.startup'), 'utf8'), 'startup=local-tree\n');
  const primary = await startPrimary(join(dir.path, 'new-primary.toml'), 'new primary');
  t.after(() => primary.kill9());
  const newUrl = `http://127.0.0.1:${publicPort}`;

  // 5. "DNS" now points at the new primary: clients use its URL with the same log key.
  const head = await waitForPublished(newUrl, last.size);
  assert.ok(head.size >= last.size);
  const policy = join(dir.path, 'new.policy');
  writeFileSync(policy, `log ${toHex(logKey)} ${newUrl}\nquorum none\n`);
  const after = join(dir.path, 'after.txt');
  writeFileSync(after, 'submitted to the new primary\n');
  for (const f of [before, after]) {
    const r = await runTool(bin, 'sigsum-submit', ['-k', submitKey, '-p', policy, '-o', `${f}.new.proof`, f], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `sigsum-submit ${f} to the new primary:\n${r.stderr}`);
    const v = await runTool(bin, 'sigsum-verify', ['-k', `${submitKey}.pub`, '-p', policy, `${f}.new.proof`], { input: readFileSync(f) });
    assert.equal(v.code, 0, `sigsum-verify rejected the new primary's proof for ${f}:\n${v.stderr}`);
  }
  // The old leaf kept its index: the proof from the old log and the new one name the same leaf index.
  const oldIndex = /leaf_index=(\d+)/.exec(readFileSync(`${before}.proof`, 'utf8'))?.[1];
  const newIndex = /leaf_index=(\d+)/.exec(readFileSync(`${before}.new.proof`, 'utf8'))?.[1];
  assert.ok(oldIndex !== undefined && oldIndex === newIndex, `the leaf submitted before keeps index ${oldIndex} (now ${newIndex})`);

  // Every imported leaf is provable from the new primary (a sample: first, last, and the ones added during the import).
  const now = await publishedHead(newUrl);
  for (const leaf of [old.leaves[0] as Uint8Array, old.leaves[1999] as Uint8Array]) {
    const h = leafHash(leaf);
    const res = await http(`${newUrl}/get-inclusion-proof/${now.size}/${toHex(h)}`);
    assert.equal(res.status, 200, res.body);
    const proof = parseInclusionProof(res.body);
    assert.ok(verifyInclusion(h, proof.leafIndex, now.size, proof.path, now.rootHash));
  }
  for (const l of during.slice(0, 20)) {
    const res = await http(`${newUrl}/get-inclusion-proof/${now.size}/${toHex(l.leafHash)}`);
    assert.equal(res.status, 200, res.body);
  }
});
