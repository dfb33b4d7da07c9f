// Interoperability with the real Sigsum tools (Debian's sigsum-go): three
// sigsum-witness processes (one per witness key; each accepts one log)
// cosign our log's checkpoints, also after a restart and after losing their
// state (the 409 path); sigsum-submit and sigsum-verify with a policy
// requiring 2 of 3 witnesses accept our log's proofs, and so they do with
// our own witness as the policy's only one; and every leaf's proof, assembled
// from our API and from sigsum-submit's files, verifies under the policy with
// our own verifier.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '../../src/crypto/index.js';
import { parseSigsumProof } from '../../src/formats/proof.js';
import { verifySigsumProof } from '../../src/formats/verify-proof.js';
import { quorumSatisfied } from '../../src/formats/policy.js';
import { encodeTreeLeaf } from '../../src/formats/leaf.js';
import { leafHash } from '../../src/tree/hash.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { runTool, sigsumTools, startTool, type RunningTool } from '../helpers/sigsum-tools.js';
import type { TestLeaf } from '../helpers/submitter.js';
import type { PublicKey } from '../../src/types.js';
import { assertQuorum, policyText, startOurWitness, startPrimaryWithPolicy, treeHead, verifyAllProofs, witnessSpecs, type Cluster, type WitnessSpec } from './cluster.js';

async function startSigsumWitness(t: TestContext, bin: string, spec: WitnessSpec, logPubFile: string): Promise<RunningTool> {
  const tool = startTool(bin, 'sigsum-witness', ['-k', spec.keyFile, '--log-key', logPubFile, '--state-file', spec.stateFile, `127.0.0.1:${spec.port}`], {
    // Debian's build otherwise routes with Go's pre-1.22 mux and answers 404 to everything.
    env: { GODEBUG: 'httpmuxgo121=0' },
  });
  t.after(() => tool.stop());
  await waitUntil(`sigsum-witness ${spec.name} to listen`, async () => ((await http(`${spec.url}/add-checkpoint`)).status === 405 ? true : undefined), 10_000);
  return tool;
}

/** sigsum-submit the files (writing FILE.proof), then sigsum-verify each; returns the leaves as our tests describe them. */
async function submitAndVerify(bin: string, c: Cluster, submitterKey: string, submitterPub: PublicKey, files: string[]): Promise<TestLeaf[]> {
  const submit = await runTool(bin, 'sigsum-submit', ['-k', submitterKey, '-p', c.policyFile, '-t', '40s', ...files], { timeoutMs: 45_000 });
  assert.equal(submit.code, 0, `sigsum-submit: ${submit.stderr}`);
  const leaves: TestLeaf[] = [];
  for (const f of files) {
    const data = readFileSync(f);
    const verify = await runTool(bin, 'sigsum-verify', ['-k', `${submitterKey}.pub`, '-p', c.policyFile, `${f}.proof`], { input: data });
    assert.equal(verify.code, 0, `sigsum-verify ${f}.proof: ${verify.stderr}`);
    // Our verifier accepts the same proof file.
    const proof = parseSigsumProof(readFileSync(`${f}.proof`, 'utf8'));
    const message = sha256(data);
    const verified = verifySigsumProof(proof, message, [submitterPub], c.policy);
    assert.ok(quorumSatisfied(c.policy, verified.witnesses), 'the cosignatures in the proof satisfy the policy quorum');
    const leaf = { checksum: sha256(message), signature: proof.leaf.signature, keyHash: proof.leaf.keyHash };
    leaves.push({ message, leaf, leafHash: leafHash(encodeTreeLeaf(leaf)), body: '' });
  }
  return leaves;
}

test('interop: sigsum-witness ×3 cosign our log; sigsum-submit + sigsum-verify (2 of 3) accept its proofs', async (t) => {
  const bin = sigsumTools(t);
  if (bin === undefined) return;
  const dir = tempDir('sigsum-witness-interop-');
  t.after(() => dir.remove());
  const specs = await witnessSpecs(dir.path, 3);
  const tools: RunningTool[] = [];
  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '500ms', timeout: '2s', logLevel: 'debug' }, async (setup, logPub) => {
    for (const s of specs) tools.push(await startSigsumWitness(t, bin, s, logPub));
    return policyText(setup.signer, setup.publicUrl, specs, 'group g 2 w1 w2 w3\nquorum g');
  });
  const submitterKey = join(dir.path, 'submitter.key');
  const submitterPub = makeKey(submitterKey).publicKey;
  const files = (tag: string, n: number): string[] =>
    Array.from({ length: n }, (_, i) => {
      const f = join(dir.path, `${tag}-${i}.txt`);
      writeFileSync(f, `${tag} ${i} ${randomBytes(8).toString('hex')}\n`);
      return f;
    });

  // sigsum-witness cosignatures on our checkpoints, served by get-tree-head, verify.
  const first = await waitUntil('a head cosigned by the three sigsum-witnesses', async () => {
    const h = await treeHead(c);
    return h.cosignatures.length === 3 ? h : undefined;
  });
  assert.deepEqual(assertQuorum(c, first), ['w1', 'w2', 'w3']);

  const leaves = await submitAndVerify(bin, c, submitterKey, submitterPub, files('a', 4));

  // Restart w1 on its state: it goes on from where it was.
  await tools[0]!.stop();
  tools[0] = await startSigsumWitness(t, bin, specs[0]!, c.logPubFile);
  // Restart w2 without its state: it answers 409 (size 0); the log resends from 0.
  await tools[1]!.stop();
  rmSync(specs[1]!.stateFile, { force: true });
  const mark = c.primary.output.length;
  tools[1] = await startSigsumWitness(t, bin, specs[1]!, c.logPubFile);

  leaves.push(...(await submitAndVerify(bin, c, submitterKey, submitterPub, files('b', 3))));
  const head = await waitUntil('a head with all 7 leaves cosigned by all three again', async () => {
    const h = await treeHead(c);
    return h.size === 7 && h.cosignatures.length === 3 ? h : undefined;
  });
  assert.deepEqual(assertQuorum(c, head), ['w1', 'w2', 'w3']);
  assert.match(c.primary.output.slice(mark), /witness w2 \(\S+\) answered 409: it has cosigned size 0; resending from there/);

  // Every leaf: inclusion proof + cosigned head + leaf, assembled from our API, verified by us.
  await verifyAllProofs(c, submitterPub, leaves, head);
});

test('interop: sigsum-submit + sigsum-verify accept proofs cosigned by our witness (the local setup)', async (t) => {
  const bin = sigsumTools(t);
  if (bin === undefined) return;
  const dir = tempDir('sigsum-witness-interop-');
  t.after(() => dir.remove());
  const [spec] = await witnessSpecs(dir.path, 1);
  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '300ms' }, async (setup, logPub) => {
    await startOurWitness(t, spec!, logPub);
    return policyText(setup.signer, setup.publicUrl, [spec!], 'quorum w1');
  });
  const submitterKey = join(dir.path, 'submitter.key');
  const submitterPub = makeKey(submitterKey).publicKey;
  const files = Array.from({ length: 3 }, (_, i) => {
    const f = join(dir.path, `f${i}.txt`);
    writeFileSync(f, `ours ${i} ${randomBytes(8).toString('hex')}\n`);
    return f;
  });
  const leaves = await submitAndVerify(bin, c, submitterKey, submitterPub, files);
  const head = await treeHead(c);
  assert.deepEqual(assertQuorum(c, head), ['w1']);
  await verifyAllProofs(c, submitterPub, leaves, head);
});
