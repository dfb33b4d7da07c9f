// [primary] policy-file as the primary reads it: a policy the log could not
// work with is refused at startup (exit 2, a message naming the problem);
// `quorum none` publishes signed heads without cosignatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/hex.js';
import { http, runCli, waitUntil } from '../helpers/node-process.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { parseCosignedTreeHead } from '../../src/formats/messages.js';

test('policy-file: refused at startup when unusable', async (t) => {
  const dir = tempDir('sigsum-policy-config-');
  t.after(() => dir.remove());
  const w = makeKey(join(dir.path, 'w.key'));
  const wk = toHex(w.publicKey);
  const rows: Array<[string, string | undefined, RegExp]> = [
    ['missing file', undefined, /cannot read policy-file/],
    ['syntax error', `witness w1 ${wk} http://127.0.0.1:1\nquorum w2\n`, /policy-file .*: 2: undefined name 'w2'/],
    ['quorum needs a witness without a URL', `witness w1 ${wk}\nquorum w1\n`, /quorum cannot be met by the witnesses that have a URL/],
    ['witness URL not http(s)', `witness w1 ${wk} ftp://127.0.0.1/\nquorum w1\n`, /URL must be http or https/],
  ];
  for (const [i, [name, text, re]] of rows.entries()) {
    await t.test(name, async () => {
      const policyFile = join(dir.path, `policy-${i}`);
      if (text !== undefined) writeFileSync(policyFile, text);
      const setup = await preparePrimary(join(dir.path, `p${i}`), { primary: { 'policy-file': policyFile } });
      const { code, output } = await runCli(['--role', 'primary', '--config', setup.config], 20_000);
      assert.equal(code, 2, output);
      assert.match(output, re);
    });
  }
});

test('policy-file with quorum none: heads are published without cosignatures', async (t) => {
  const dir = tempDir('sigsum-policy-config-');
  t.after(() => dir.remove());
  const policyFile = join(dir.path, 'policy');
  const setup = await preparePrimary(dir.path, { interval: '200ms', primary: { 'policy-file': policyFile } });
  writeFileSync(policyFile, `log ${toHex(setup.signer.publicKey)} ${setup.publicUrl}\nquorum none\n`);
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  assert.match(primary.output, /quorum none; tree heads are published without cosignatures/);
  const head = await waitUntil('a tree head', async () => {
    const res = await http(`${setup.publicUrl}/get-tree-head`);
    return res.status === 200 ? parseCosignedTreeHead(res.body) : undefined;
  });
  assert.deepEqual(head.cosignatures, []);
});
