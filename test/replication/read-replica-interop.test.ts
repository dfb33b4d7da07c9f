// The reference Sigsum tools against a read replica: sigsum-monitor following
// the replica's URL sees every leaf and raises no alert, and a proof whose
// tree head and inclusion proof came from the replica verifies with
// sigsum-verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyHash, sha256 } from '../../src/crypto/index.js';
import { parseCosignedTreeHead, parseInclusionProof } from '../../src/formats/messages.js';
import { formatSigsumProof } from '../../src/formats/proof.js';
import { toHex } from '../../src/hex.js';
import { makeKey, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { runTool, sigsumTools, startTool } from '../helpers/sigsum-tools.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { prepareCluster } from './fixture.js';
import { runAlone } from '../helpers/exclusive.js';

test('read replica interop: sigsum-monitor follows it without alert; sigsum-verify accepts its proofs', async (t) => {
  const bin = sigsumTools(t);
  if (bin === undefined) return;
  await runAlone(t); // sigsum-monitor's deadlines: never beside the flood or another monitor test
  const dir = tempDir();
  t.after(() => dir.remove());
  const { primary, secondaries } = await prepareCluster(dir.path, { secondaries: 1, logPubkey: true });
  const replica = secondaries[0]!;
  const replicaProc = await startNodeProcess('secondary', replica);
  t.after(() => replicaProc.kill9());
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());

  const policy = join(dir.path, 'replica.policy');
  writeFileSync(policy, `log ${toHex(primary.signer.publicKey)} ${replica.publicUrl}\nquorum none\n`);
  const submitKey = join(dir.path, 'submit.key');
  const submitter = makeKey(submitKey);
  // A replica that has not verified a published head yet answers 503 (not
  // ready); the monitor starts once it serves one, as a load balancer would.
  await waitUntil('the replica serves a published head', async () => ((await http(`${replica.publicUrl}/get-tree-head`)).status === 200 ? true : undefined), 30_000, 100);
  const monitor = startTool(bin, 'sigsum-monitor', ['-p', policy, '-i', '1s', `${submitKey}.pub`]);
  t.after(() => monitor.stop());

  const files = Array.from({ length: 5 }, (_, i) => {
    const data = randomBytes(100 + i);
    const file = join(dir.path, `data${i}`);
    writeFileSync(file, data);
    return { file, data, leaf: makeLeaf(submitter, sha256(data)) };
  });
  await submitUntilPublished(primary.publicUrl, files.map((f) => f.leaf), 60_000);

  const head = await waitUntil('the replica serves size 5', async () => {
    const res = await http(`${replica.publicUrl}/get-tree-head`);
    return res.status === 200 && parseCosignedTreeHead(res.body).size === 5 ? parseCosignedTreeHead(res.body) : undefined;
  }, 30_000, 100);
  for (const f of files) {
    const res = await http(`${replica.publicUrl}/get-inclusion-proof/${head.size}/${toHex(f.leaf.leafHash)}`);
    assert.equal(res.status, 200, res.body);
    const proof = formatSigsumProof({
      logKeyHash: keyHash(primary.signer.publicKey),
      leaf: { keyHash: f.leaf.leaf.keyHash, signature: f.leaf.leaf.signature },
      treeHead: head,
      inclusion: parseInclusionProof(res.body),
    });
    writeFileSync(`${f.file}.proof`, proof);
    const verify = await runTool(bin, 'sigsum-verify', ['-k', `${submitKey}.pub`, '-p', policy, `${f.file}.proof`], { input: f.data });
    assert.equal(verify.code, 0, `sigsum-verify rejected a replica's proof:\n${verify.stderr}`);
  }
  const wrong = await runTool(bin, 'sigsum-verify', ['-k', `${submitKey}.pub`, '-p', policy, `${files[0]!.file}.proof`], { input: files[1]!.data });
  assert.notEqual(wrong.code, 0, 'sigsum-verify rejects a proof for other data');

  await waitUntil('sigsum-monitor, following the replica, reports the 5 leaves', () => {
    const out = monitor.output();
    return out.stdout.split('\n').filter((l) => /^\s*index \d+ keyhash [0-9a-f]{64} checksum [0-9a-f]{64}$/.test(l)).length >= 5 ? true : undefined;
  }, 30_000, 200).catch((err: Error) => {
    const out = monitor.output();
    throw new Error(`${err.message}\nmonitor stdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
  });
  await new Promise((r) => setTimeout(r, 3_000)); // a few more -i 1s rounds in which it must raise nothing
  const out = monitor.output();
  assert.doesNotMatch(out.stdout + out.stderr, /alert|fatal|inconsistent/i, 'no alert from sigsum-monitor');
  assert.equal(monitor.child.exitCode, null, 'sigsum-monitor still running');
});
