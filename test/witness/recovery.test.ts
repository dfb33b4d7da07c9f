// 409 recovery with real processes: a witness whose state is rolled back to
// an older size (its state file restored from a copy), or lost entirely,
// answers 409 with the size it has; the primary resends from that size in
// the same round, so the log recovers in one round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../helpers/node-process.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { assertQuorum, countOutput, policyText, startOurWitness, startPrimaryWithPolicy, treeHead, witnessSpecs } from './cluster.js';

test('a witness rolled back to an older size, and one that lost its state: recovered in one round', async (t) => {
  const dir = tempDir('sigsum-recovery-');
  t.after(() => dir.remove());
  const specs = await witnessSpecs(dir.path, 3);
  const procs: Array<Awaited<ReturnType<typeof startOurWitness>>> = [];
  const c = await startPrimaryWithPolicy(t, dir.path, { logLevel: 'debug' }, async (setup, logPub) => {
    for (const s of specs) procs.push(await startOurWitness(t, s, logPub));
    // Every witness is required, so no head is published without the recovered ones.
    return policyText(setup.signer, setup.publicUrl, specs, 'group g all w1 w2 w3\nquorum g');
  });
  const url = c.setup.publicUrl;
  const submitter = makeKey(join(dir.path, 'submitter.key'));

  await submitUntilPublished(url, Array.from({ length: 5 }, () => makeLeaf(submitter)), 20_000);
  await waitUntil('size 5 cosigned by all', async () => ((await treeHead(c)).cosignatures.length === 3 ? true : undefined));
  // The tree is idle at 5, so w1's state file holds size 5 now.
  copyFileSync(specs[0]!.stateFile, join(dir.path, 'w1.state-at-5'));
  await submitUntilPublished(url, Array.from({ length: 7 }, () => makeLeaf(submitter)), 20_000);
  assert.equal((await treeHead(c)).size, 12);

  // w1 comes back remembering size 5; w2 comes back with no state at all.
  await procs[0]!.kill9();
  await procs[1]!.kill9();
  copyFileSync(join(dir.path, 'w1.state-at-5'), specs[0]!.stateFile);
  rmSync(specs[1]!.stateFile);
  const mark = c.primary.output.length;
  await startOurWitness(t, specs[0]!, c.logPubFile);
  await startOurWitness(t, specs[1]!, c.logPubFile);

  const more = Array.from({ length: 6 }, () => makeLeaf(submitter));
  await submitUntilPublished(url, more, 20_000);
  const head = await treeHead(c);
  assert.equal(head.size, 18);
  assert.deepEqual(assertQuorum(c, head), ['w1', 'w2', 'w3']);
  const after = c.primary.output.slice(mark);
  assert.match(after, /witness w1 \(\S+\) answered 409: it has cosigned size 5; resending from there/);
  assert.match(after, /witness w2 \(\S+\) answered 409: it has cosigned size 0; resending from there/);
  // Each recovered in the round that first reached it: no round failed for a 409.
  assert.equal(countOutput(c.primary, /witness w[12] \(\S+\) did not cosign size \d+: (HTTP 409|409 again)/, mark), 0, after);
  assert.equal(countOutput(c.primary, /answered 409/, mark), 2, 'one 409 per recovered witness, then none');
});
