// A primary (real process) whose policy includes misbehaving witnesses (in
// this test process, over real HTTP): a cosignature from the wrong key, a bad
// signature, garbage, a witness that hangs. They are ignored and logged (once,
// not every round); the primary keeps publishing with the two good ones,
// and a hanging witness costs each round at most the timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { waitUntil } from '../helpers/node-process.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { startBadWitness, type BadWitness } from './bad-witnesses.js';
import { assertQuorum, countOutput, policyText, startOurWitness, startPrimaryWithPolicy, treeHead, verifyAllProofs, witnessSpecs } from './cluster.js';

test('misbehaving witnesses are ignored and logged; the log keeps publishing', async (t) => {
  const dir = tempDir('sigsum-misbehaving-');
  t.after(() => dir.remove());
  const good = await witnessSpecs(dir.path, 2);
  const bad: BadWitness[] = [];
  t.after(() => Promise.all(bad.map((b) => b.close())));
  const keys = {
    wrongkey: makeKey(join(dir.path, 'wrongkey.key')),
    stranger: makeKey(join(dir.path, 'stranger.key')),
    badsig: makeKey(join(dir.path, 'badsig.key')),
    garbage: makeKey(join(dir.path, 'garbage.key')),
    hang: makeKey(join(dir.path, 'hang.key')),
  };
  bad.push(await startBadWitness({ kind: 'wrong-key', expected: keys.wrongkey.publicKey, actual: keys.stranger }));
  bad.push(await startBadWitness({ kind: 'bad-signature', signer: keys.badsig }));
  bad.push(await startBadWitness({ kind: 'garbage' }));
  bad.push(await startBadWitness({ kind: 'hang' }));
  const names = ['wrongkey', 'badsig', 'garbage', 'hang'] as const;

  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '300ms', timeout: '1s' }, async (setup, logPub) => {
    for (const s of good) await startOurWitness(t, s, logPub);
    const witnesses = [...good, ...names.map((n, i) => ({ name: n, key: keys[n], url: bad[i]!.url }))];
    return policyText(setup.signer, setup.publicUrl, witnesses, `group g 2 ${witnesses.map((w) => w.name).join(' ')}\nquorum g`);
  });
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 8 }, () => makeLeaf(submitter));
  const started = Date.now();
  await submitUntilPublished(c.setup.publicUrl, leaves, 20_000);
  // A round already running when the leaves came, then theirs (each ≤ interval + timeout), plus slack for a busy machine.
  // Loose on purpose (a busy machine); the per-round bound is tested in cosigner.test.ts.
  assert.ok(Date.now() - started < 15_000, `published after ${Date.now() - started} ms`);
  const head = await treeHead(c);
  assert.equal(head.size, 8);
  assert.deepEqual(assertQuorum(c, head), ['w1', 'w2'], 'only the good witnesses are served');
  await verifyAllProofs(c, submitter.publicKey, leaves, head);

  // Several more rounds (idle refreshes): every bad witness is asked each round, warned about once.
  await waitUntil('four rounds with every witness', () => (bad.every((b) => b.requests >= 4) ? true : undefined), 20_000);
  const expected: Record<(typeof names)[number], RegExp> = {
    wrongkey: /no cosignature line by the witness key in the policy: "\u2014 sigsum\.org\/v1\/witness\/[0-9a-f]{64} /,
    badsig: /cosignature does not verify: "\u2014 /,
    garbage: /malformed response \(.*\): "this is not a cosignature\\n"/,
    hang: /timed out/,
  };
  for (const n of names) {
    const re = new RegExp(`WARNING \\[primary\\] witness ${n} \\(http://127\\.0\\.0\\.1:\\d+\\) did not cosign size \\d+: ${expected[n].source}`, 'g');
    assert.equal(countOutput(c.primary, re), 1, `one warning for ${n}:\n${c.primary.output}`);
  }
  assert.ok(c.primary.running);
  assert.equal(countOutput(c.primary, /not published/), 0, 'quorum was met every round');
});
