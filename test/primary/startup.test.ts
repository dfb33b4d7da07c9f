// Startup refusals: the primary must not start from state that could fork
// the log or hide lost data, and must say what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/node-process.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir, type PrimarySetup } from '../helpers/log-fixture.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';

async function publishSome(setup: PrimarySetup, n: number): Promise<void> {
  const p = await startNodeProcess('primary', setup);
  try {
    const submitter = makeKey(join(setup.dir, `submitter-${Date.now()}.key`));
    await submitUntilPublished(setup.publicUrl, Array.from({ length: n }, () => makeLeaf(submitter)), 20_000);
  } finally {
    await p.stop();
  }
}

function removeDb(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
}

test('startup: init writes the startup file; the first start signs the empty head', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path);
  rmSync(`${setup.sthFile}.startup`);
  const init = await runCli(['init', '--config', setup.config]);
  assert.equal(init.code, 0, init.output);
  assert.equal(readFileSync(`${setup.sthFile}.startup`, 'utf8'), 'startup=empty\n');
  const p = await startNodeProcess('primary', setup);
  await p.stop();
  assert.ok(existsSync(setup.sthFile), 'sth file written');
  assert.ok(!existsSync(`${setup.sthFile}.startup`), 'startup file removed');
  assert.match(readFileSync(setup.sthFile, 'utf8'), /^size=0\nroot_hash=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nsignature=[0-9a-f]{128}\n$/);
  const again = await runCli(['init', '--config', setup.config]);
  assert.equal(again.code, 2);
  assert.match(again.output, /already initialized/);
});

test('startup: refusals', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path, { interval: '200ms' });
  await publishSome(setup, 5);
  const goodSth = readFileSync(setup.sthFile, 'utf8');
  const start = (): Promise<{ code: number | null; output: string }> => runCli(['--role', 'primary', '--config', setup.config], 20_000);

  // Neither sth file nor startup file.
  rmSync(setup.sthFile);
  let r = await start();
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /no sth file .* run `sigsum-log init --config FILE`/);

  // Both present.
  writeFileSync(setup.sthFile, goodSth);
  writeFileSync(`${setup.sthFile}.startup`, 'startup=empty\n');
  r = await start();
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /both .* exist/);
  rmSync(`${setup.sthFile}.startup`);

  // Bad signature.
  const sig = /signature=([0-9a-f]+)/.exec(goodSth)![1]!;
  writeFileSync(setup.sthFile, goodSth.replace(sig, (sig[0] === '0' ? '1' : '0') + sig.slice(1)));
  r = await start();
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /signature .* does not verify/);

  // Malformed sth file.
  writeFileSync(setup.sthFile, 'size=5\n');
  r = await start();
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /malformed/);

  // The sth is larger than the database (an old backup was restored).
  writeFileSync(setup.sthFile, goodSth);
  copyFileSync(setup.dbFile, join(dir.path, 'saved.db'));
  removeDb(setup.dbFile);
  r = await start();
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /has size 5 but the local tree has only 0 leaves/);

  // A database of the right size holding other leaves.
  removeDb(setup.dbFile);
  const other = await preparePrimary(join(dir.path, 'other'), { interval: '200ms', keyFile: setup.keyFile });
  await publishSome(other, 5);
  copyFileSync(other.dbFile, setup.dbFile);
  r = await start();
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /root at size 5 .* differs/);

  // With the right database it starts again.
  removeDb(setup.dbFile);
  copyFileSync(join(dir.path, 'saved.db'), setup.dbFile);
  const p = await startNodeProcess('primary', setup);
  await p.stop();
});
