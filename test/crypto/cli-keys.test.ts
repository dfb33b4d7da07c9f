// `sigsum-log keygen` and `sigsum-log key-hash` as a user runs them, checked
// against the real sigsum-key where it is available.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { keyHash } from '../../src/crypto/index.js';
import { readPublicKeyFile } from '../../src/crypto/keyfile.js';
import { toHex } from '../../src/hex.js';
import { runCli } from '../helpers/node-process.js';
import { tempDir } from '../helpers/log-fixture.js';
import { runTool, sigsumTools } from '../helpers/sigsum-tools.js';

test('keygen writes KEY (0600) and KEY.pub; key-hash prints the hash; keygen never overwrites', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const key = join(dir.path, 'log.key');
  const gen = await runCli(['keygen', '-o', key]);
  assert.equal(gen.code, 0, gen.output);
  assert.equal(statSync(key).mode & 0o777, 0o600);
  const hash = await runCli(['key-hash', `${key}.pub`]);
  assert.equal(hash.code, 0, hash.output);
  assert.equal(hash.output.trim(), toHex(keyHash(readPublicKeyFile(`${key}.pub`))));
  const again = await runCli(['keygen', '-o', key]);
  assert.equal(again.code, 2);
  assert.match(again.output, /refusing to overwrite/);

  const bin = sigsumTools(t);
  if (bin === undefined) return;
  const theirs = await runTool(bin, 'sigsum-key', ['to-hash', '-k', `${key}.pub`]);
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.equal(theirs.stdout.trim(), hash.output.trim(), 'sigsum-key agrees on the key hash');
  const sign = await runTool(bin, 'sigsum-key', ['sign', '-k', key], { input: 'hello' });
  assert.equal(sign.code, 0, `sigsum-key reads the private key we wrote: ${sign.stderr}`);
});
