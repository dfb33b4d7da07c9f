// verify-tiles as a command: --help, exit 0 against a node's own tiles, and a
// table of bad input: usage errors exit 2 with one line, failed checks exit 1
// naming what failed (wrong key, unreachable, not a tiles URL, a --since
// checkpoint that is garbage, larger, or a fork signed with the log key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { signedCheckpointNote } from '../../src/formats/signed-note.js';
import { asHash } from '../../src/types.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { freePort, http, runCli } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';

test('verify-tiles: --help, a passing check, and bad input (2 usage, 1 check failed)', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path, { interval: '300ms' });
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  await submitUntilPublished(setup.publicUrl, Array.from({ length: 40 }, () => makeLeaf(submitter)), 30_000);
  const pub = `${setup.keyFile}.pub`;
  makeKey(join(dir.path, 'other.key')); // another log's key
  const file = (name: string, content: string): string => {
    const p = join(dir.path, name);
    writeFileSync(p, content);
    return p;
  };
  const current = file('current.checkpoint', (await http(`${setup.publicUrl}/checkpoint`)).body);
  const larger = file('larger.checkpoint', signedCheckpointNote(setup.signer.publicKey, signTreeHead(setup.signer, { size: 1_000, rootHash: asHash(new Uint8Array(32)) })));
  const fork = file('fork.checkpoint', signedCheckpointNote(setup.signer.publicKey, signTreeHead(setup.signer, { size: 20, rootHash: asHash(new Uint8Array(32).fill(9)) })));
  const deadPort = await freePort();

  const help = await runCli(['verify-tiles', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.output, /--url <url>/);
  const okRun = await runCli(['verify-tiles', '--url', setup.publicUrl, '--log-pubkey-file', pub, '--since', current], 60_000);
  assert.equal(okRun.code, 0, okRun.output);
  assert.match(okRun.output, /OK: size 40, .* and it extends the --since checkpoint/);

  const cases: Array<{ args: string[]; code: number; message: RegExp }> = [
    { args: [], code: 2, message: /--url is required/ },
    { args: ['--url', setup.publicUrl], code: 2, message: /--log-pubkey-file is required/ },
    { args: ['--url', 'not a url', '--log-pubkey-file', pub], code: 2, message: /is not a URL/ },
    { args: ['--url', 'ftp://127.0.0.1/', '--log-pubkey-file', pub], code: 2, message: /must be http or https/ },
    { args: ['--url', setup.publicUrl, '--log-pubkey-file', join(dir.path, 'missing.pub')], code: 2, message: /--log-pubkey-file .*missing\.pub/ },
    { args: ['--url', setup.publicUrl, '--log-pubkey-file', file('garbage.pub', 'hello\n')], code: 2, message: /--log-pubkey-file/ },
    { args: ['--url', setup.publicUrl, '--log-pubkey-file', pub, '--since', join(dir.path, 'missing')], code: 2, message: /--since .*missing/ },
    { args: ['--url', setup.publicUrl, '--log-pubkey-file', pub, '--bogus'], code: 2, message: /unknown option/ },
    { args: ['--url', `http://127.0.0.1:${deadPort}`, '--log-pubkey-file', pub], code: 1, message: /FAILED: http:\/\/127\.0\.0\.1:\d+\/checkpoint: / },
    { args: ['--url', `${setup.publicUrl}/nope`, '--log-pubkey-file', pub], code: 1, message: /FAILED: checkpoint: not found/ },
    { args: ['--url', setup.publicUrl, '--log-pubkey-file', `${join(dir.path, 'other.key')}.pub`], code: 1, message: /FAILED: checkpoint: .*origin does not match the log key/ },
    { args: ['--url', setup.publicUrl, '--log-pubkey-file', pub, '--since', file('junk.checkpoint', 'junk\n')], code: 1, message: /FAILED: --since checkpoint: / },
    { args: ['--url', setup.publicUrl, '--log-pubkey-file', pub, '--since', larger], code: 1, message: /FAILED: the checkpoint \(size 40\) is smaller than the --since checkpoint \(size 1000\)/ },
    { args: ['--url', setup.publicUrl, '--log-pubkey-file', pub, '--since', fork], code: 1, message: /FAILED: not consistent with the --since checkpoint: .* at size 20/ },
  ];
  for (const c of cases) {
    const run = await runCli(['verify-tiles', ...c.args], 60_000);
    assert.equal(run.code, c.code, `${c.args.join(' ')}: ${run.output}`);
    assert.match(run.output, c.message, c.args.join(' '));
    assert.doesNotMatch(run.output, /at .*\.js:\d+/, `${c.args.join(' ')}: no stack trace`);
  }
});
