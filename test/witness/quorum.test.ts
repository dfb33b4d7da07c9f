// Primary + secondary + 3 of our witnesses (real processes), policy
// `group g 2 w1 w2 w3` / `quorum g`: heads are published with ≥ 2 valid cosignatures; with one
// witness dead they still are; with two dead the published head stops while
// add-leaf keeps answering 202, and it resumes when a witness comes back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { bytesEqual } from '../../src/hex.js';
import { parseCosignedTreeHead } from '../../src/formats/messages.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { addLeaf, makeLeaf, submitUntilPublished, type TestLeaf } from '../helpers/submitter.js';
import { assertQuorum, countOutput, policyText, startOurWitness, startPrimaryWithPolicy, treeHead, verifyAllProofs, witnessSpecs } from './cluster.js';

const NOT_PUBLISHED = /not published: witness cosignatures do not satisfy the policy quorum/;

test('primary + secondary + 3 witnesses, quorum 2 of 3: publishes with ≥ 2 cosignatures, stops below, resumes', async (t) => {
  const dir = tempDir('sigsum-quorum-');
  t.after(() => dir.remove());
  const specs = await witnessSpecs(dir.path, 3);
  const procs = new Map<string, Awaited<ReturnType<typeof startOurWitness>>>();
  // Debug level: repeated quorum warnings are rate-limited at info, and this test counts rounds.
  const c = await startPrimaryWithPolicy(t, dir.path, { secondary: true, logLevel: 'debug' }, async (setup, logPub) => {
    for (const s of specs) procs.set(s.name, await startOurWitness(t, s, logPub));
    return policyText(setup.signer, setup.publicUrl, specs, 'group g 2 w1 w2 w3\nquorum g');
  });
  const url = c.setup.publicUrl;
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const all: TestLeaf[] = [];
  const batch = (n: number): TestLeaf[] => {
    const leaves = Array.from({ length: n }, () => makeLeaf(submitter));
    all.push(...leaves);
    return leaves;
  };

  // All three up: every published head carries cosignatures satisfying the quorum.
  await submitUntilPublished(url, batch(20), 20_000);
  let head = await waitUntil('a head cosigned by all three', async () => {
    const h = await treeHead(c);
    return h.size === 20 && h.cosignatures.length === 3 ? h : undefined;
  });
  assert.deepEqual(assertQuorum(c, head), ['w1', 'w2', 'w3']);

  // One witness dead: still published, with the two others.
  await procs.get('w3')!.kill9();
  await submitUntilPublished(url, batch(10), 20_000);
  head = await treeHead(c);
  assert.equal(head.size, 30);
  assert.deepEqual(assertQuorum(c, head), ['w1', 'w2']);

  // Two dead: the published head stops advancing; new leaves stay 202.
  await procs.get('w2')!.kill9();
  const stuck = batch(10);
  for (const l of stuck) assert.equal(await addLeaf(url, l), 202);
  const mark = c.primary.output.length;
  await waitUntil('three rotations without quorum', () => (countOutput(c.primary, NOT_PUBLISHED, mark) >= 3 ? true : undefined), 20_000);
  const held = await treeHead(c);
  assert.equal(held.size, 30, 'published head did not advance');
  assert.ok(bytesEqual(held.rootHash, head.rootHash));
  assertQuorum(c, held); // still the last cosigned head, cosignatures and all
  for (const l of stuck) assert.equal(await addLeaf(url, l), 202, 'add-leaf still accepts, not yet published');
  assert.ok(c.primary.running, 'the primary is still running');
  assert.ok(c.secondary!.process.running, 'the secondary is still running');

  // w2 returns (same port, same state file): publication resumes.
  procs.set('w2', await startOurWitness(t, specs[1]!, c.logPubFile));
  await submitUntilPublished(url, stuck, 20_000);
  head = await waitUntil('a head of size 40', async () => {
    const h = await treeHead(c);
    return h.size === 40 ? h : undefined;
  });
  assert.deepEqual(assertQuorum(c, head), ['w1', 'w2']);
  await verifyAllProofs(c, submitter.publicKey, all, head);

  // The secondary keeps the published head with its cosignatures (what a promoted secondary would serve).
  const kept = await waitUntil('the secondary to keep the cosigned head', async () => {
    const res = await http(`${c.secondary!.setup.internalUrl}/get-tree-head`);
    if (res.status !== 200) return undefined;
    const h = parseCosignedTreeHead(res.body);
    return h.size === 40 ? h : undefined;
  });
  assert.ok(bytesEqual(kept.rootHash, head.rootHash));
  assert.deepEqual(assertQuorum(c, kept), ['w1', 'w2']);
});
