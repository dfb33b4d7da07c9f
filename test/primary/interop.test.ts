// The real Sigsum tools (Debian sigsum-go) against a running primary: a log
// key made by sigsum-key, sigsum-submit collecting proofs, sigsum-verify
// accepting them, our own proof verifier agreeing, and sigsum-monitor
// following the log without an alert.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPrivateKeyFile, readPublicKeyFile } from '../../src/crypto/keyfile.js';
import { keyHash, signerFromSeed } from '../../src/crypto/index.js';
import { parseSigsumProof } from '../../src/formats/proof.js';
import { toHex } from '../../src/hex.js';
import { waitUntil } from '../helpers/node-process.js';
import { preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { runTool, sigsumTools, startTool } from '../helpers/sigsum-tools.js';
import { runAlone } from '../helpers/exclusive.js';

test('interop: sigsum-key, sigsum-submit, sigsum-verify and sigsum-monitor work with our primary', async (t) => {
  const bin = sigsumTools(t);
  if (bin === undefined) return;
  await runAlone(t); // sigsum-monitor's deadlines: never beside the flood or another monitor test
  const dir = tempDir();
  t.after(() => dir.remove());

  const logKey = join(dir.path, 'log.key');
  const gen = await runTool(bin, 'sigsum-key', ['generate', '-o', logKey]);
  assert.equal(gen.code, 0, gen.stderr);
  const setup = await preparePrimary(dir.path, { interval: '500ms', keyFile: logKey });
  assert.equal(toHex(setup.signer.publicKey), toHex(readPublicKeyFile(`${logKey}.pub`)), 'sigsum-key private and public files agree with our reader');
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());

  const policy = join(dir.path, 'policy');
  writeFileSync(policy, `log ${toHex(setup.signer.publicKey)} ${setup.publicUrl}\nquorum none\n`);
  const submitKey = join(dir.path, 'submit.key');
  assert.equal((await runTool(bin, 'sigsum-key', ['generate', '-o', submitKey])).code, 0);

  const monitor = startTool(bin, 'sigsum-monitor', ['-p', policy, '-i', '1s', `${submitKey}.pub`]);
  t.after(() => monitor.stop());

  const files = [0, 1, 2, 3].map((i) => {
    const f = join(dir.path, `file${i}`);
    writeFileSync(f, `message number ${i}\n`);
    return f;
  });
  const submit = await runTool(bin, 'sigsum-submit', ['-k', submitKey, '-p', policy, ...files], { timeoutMs: 60_000 });
  assert.equal(submit.code, 0, `sigsum-submit failed:\n${submit.stderr}`);

  const submitterKeyHash = toHex(keyHash(signerFromSeed(readPrivateKeyFile(submitKey)).publicKey));
  for (const f of files) {
    const verify = await runTool(bin, 'sigsum-verify', ['-k', `${submitKey}.pub`, '-p', policy, `${f}.proof`], { input: readFileSync(f) });
    assert.equal(verify.code, 0, `sigsum-verify rejected ${f}.proof:\n${verify.stderr}`);
    const proof = parseSigsumProof(readFileSync(`${f}.proof`, 'utf8'));
    assert.equal(toHex(proof.logKeyHash), toHex(keyHash(setup.signer.publicKey)), 'proof names our log');
    assert.equal(toHex(proof.leaf.keyHash), submitterKeyHash, 'proof names the submitter');
  }
  // A proof of another file must not verify.
  const wrong = await runTool(bin, 'sigsum-verify', ['-k', `${submitKey}.pub`, '-p', policy, `${files[0]}.proof`], { input: readFileSync(files[1]!) });
  assert.notEqual(wrong.code, 0, 'sigsum-verify rejects a proof for different data');

  // The monitor sees all four leaves over a few intervals, and raises no alert.
  await waitUntil('sigsum-monitor reports the submitted leaves', () => {
    const out = monitor.output();
    return monitorSawLeaves(out.stdout) >= 4 ? true : undefined;
  }, 30_000, 200).catch((err: Error) => {
    const out = monitor.output();
    throw new Error(`${err.message}\nmonitor stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
  });
  // A few more intervals (-i 1s) in which it must raise nothing.
  await new Promise((r) => setTimeout(r, 3500));
  const out = monitor.output();
  assert.doesNotMatch(out.stdout + out.stderr, /alert|fatal|inconsistent/i, 'no alert from sigsum-monitor');
  assert.equal(monitor.child.exitCode, null, 'sigsum-monitor still running');
});

/** Counts leaf reports in sigsum-monitor's output: "  index I keyhash H checksum C", one per matching leaf. */
function monitorSawLeaves(output: string): number {
  return output.split('\n').filter((l) => /^\s*index \d+ keyhash [0-9a-f]{64} checksum [0-9a-f]{64}$/.test(l)).length;
}
