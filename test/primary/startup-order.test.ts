// Signing only what is safe, through the real CLI: every configured file is
// read and checked, and the "not forked" check against the secondaries has
// passed, before the primary signs its first head or touches the sth and
// startup files. A refusal leaves both files exactly as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyHash } from '../../src/crypto/index.js';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { toHex } from '../../src/hex.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir, writePrimaryConfig, type PrimarySetup } from '../helpers/log-fixture.js';
import { runCli } from '../helpers/node-process.js';
import { headOf, randomLeaves, serveInternal, treeSource, treeWith } from '../replication/fixture.js';

function start(setup: PrimarySetup): Promise<{ code: number | null; output: string }> {
  return runCli(['--role', 'primary', '--config', setup.config], 20_000);
}

function assertUntouched(setup: PrimarySetup, mode: string): void {
  assert.equal(readFileSync(`${setup.sthFile}.startup`, 'utf8'), `startup=${mode}\n`, 'the startup file is still there');
  assert.equal(existsSync(setup.sthFile), false, 'no sth file: nothing was signed');
}

test('startup=local-tree: a refused "not forked" check signs nothing and leaves the startup file in place', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path);
  // A promoted node's database: 100 leaves; the startup file says local-tree.
  const leaves = randomLeaves(130);
  treeWith(setup.dbFile, leaves.slice(0, 100)).close();
  writeFileSync(`${setup.sthFile}.startup`, 'startup=local-tree\n');
  // A configured secondary that holds 130 leaves, signed with its own key: someone else sequenced.
  const secondaryKey = makeKey(join(dir.path, 'secondary.key'));
  const other = treeWith(join(dir.path, 'other.db'), leaves);
  t.after(() => other.close());
  const server = await serveInternal(treeSource(other), { cosign: { treeHeadToCosign: () => signTreeHead(secondaryKey, headOf(other)) } });
  t.after(() => server.close());
  writePrimaryConfig(setup, { secondaries: [{ url: `http://${server.address}`, pubkeyFile: join(dir.path, 'secondary.key.pub') }] });

  const r = await start(setup);
  assert.equal(r.code, 2, r.output);
  assert.match(r.output, /refusing to start as primary: secondary .* holds 130 leaves but this node's tree has only 100/);
  assertUntouched(setup, 'local-tree');
});

test('startup: a bad file anywhere in the config is refused before the first head is signed', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path);
  const logKeyPub = `${setup.keyFile}.pub`;
  const garbage = join(dir.path, 'garbage');
  writeFileSync(garbage, 'this is not what you think\n');
  const tokenFile = join(dir.path, 'token');
  writeFileSync(tokenFile, 'two words\n');
  const cases: Array<{ name: string; opts: Parameters<typeof writePrimaryConfig>[1]; message: RegExp }> = [
    { name: 'rate-limit file', opts: { primary: { 'rate-limit-file': garbage } }, message: /garbage line 1: / },
    { name: 'policy file', opts: { primary: { 'policy-file': garbage } }, message: /policy-file .*garbage: / },
    { name: 'secondary key file', opts: { secondaries: [{ url: 'http://127.0.0.1:1', pubkeyFile: garbage }] }, message: /public key file .*garbage: / },
    {
      name: "secondary key is the log's key",
      opts: { secondaries: [{ url: 'http://127.0.0.1:1', pubkeyFile: logKeyPub }] },
      message: new RegExp(`secondary-pubkey-file .*primary\\.key\\.pub is the log's own key \\(key hash ${toHex(keyHash(setup.signer.publicKey))}\\)`),
    },
    { name: 'internal token file', opts: { top: { 'internal-token-file': tokenFile } }, message: /the token must be one non-empty word/ },
  ];
  for (const c of cases) {
    writePrimaryConfig(setup, c.opts);
    const r = await start(setup);
    assert.equal(r.code, 2, `${c.name}: ${r.output}`);
    assert.match(r.output, c.message, c.name);
    assertUntouched(setup, 'empty');
  }
  // With the files fixed, the same setup starts and signs its first head.
  writePrimaryConfig(setup, {});
  const p = await startNodeProcess('primary', setup);
  await p.stop();
  assert.ok(existsSync(setup.sthFile), 'signed once every check passed');
  assert.equal(existsSync(`${setup.sthFile}.startup`), false);
});
