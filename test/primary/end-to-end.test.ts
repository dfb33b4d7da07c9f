// A single primary as a real process: 500 leaves over HTTP, every proof
// verified with the tree module's verifiers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseCosignedTreeHead, parseConsistencyProof, parseInclusionProof, parseLeaves } from '../../src/formats/messages.js';
import { verifyTreeHeadSignature } from '../../src/formats/checkpoint.js';
import { encodeTreeLeaf } from '../../src/formats/leaf.js';
import { leafHash } from '../../src/tree/hash.js';
import { verifyConsistency, verifyInclusion } from '../../src/tree/verify.js';
import { bytesEqual, toHex } from '../../src/hex.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { inParallel, makeLeaf, submitUntilPublished } from '../helpers/submitter.js';

test('primary: 500 leaves reach 200 and every proof verifies', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path, { interval: '300ms' });
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const url = setup.publicUrl;
  const submitter = makeKey(join(dir.path, 'submitter.key'));

  // Heads by size. Polls overlap, so their answers may arrive out of order:
  // successive heads are taken in size order, and one size must have one root.
  const headsBySize = new Map<number, CosignedTreeHead>();
  const observe = async (): Promise<CosignedTreeHead> => {
    const res = await http(`${url}/get-tree-head`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    const head = parseCosignedTreeHead(res.body);
    assert.ok(verifyTreeHeadSignature(setup.signer.publicKey, head), 'tree head signature verifies');
    const seen = headsBySize.get(head.size);
    if (seen === undefined) headsBySize.set(head.size, head);
    else assert.ok(bytesEqual(seen.rootHash, head.rootHash), `two roots for size ${head.size}`);
    return head;
  };

  const leaves = Array.from({ length: 500 }, () => makeLeaf(submitter));
  const first = await inParallel(leaves, 32, async (l) => (await http(`${url}/add-leaf`, { method: 'POST', body: l.body })).status);
  assert.ok(first.every((s) => s === 202), `fresh leaves answer 202, got ${[...new Set(first)]}`);
  await observe();
  const pollerErrors: unknown[] = [];
  const poller = setInterval(() => void observe().catch((err: unknown) => pollerErrors.push(err)), 100);
  try {
    await submitUntilPublished(url, leaves, 60_000);
  } finally {
    clearInterval(poller);
  }
  assert.deepEqual(pollerErrors, [], 'every tree head observed while leaves were added was well-formed and signed');
  const head = await waitUntil('a head with all 500 leaves', async () => {
    const h = await observe();
    return h.size >= 500 ? h : undefined;
  });
  assert.equal(head.size, 500);

  // Every leaf: inclusion proof against the published head.
  await inParallel(leaves, 16, async (l) => {
    const res = await http(`${url}/get-inclusion-proof/${head.size}/${toHex(l.leafHash)}`);
    assert.equal(res.status, 200, res.body);
    const proof = parseInclusionProof(res.body);
    assert.ok(verifyInclusion(l.leafHash, proof.leafIndex, head.size, proof.path, head.rootHash), `inclusion of leaf ${proof.leafIndex}`);
  });

  // get-leaves returns exactly the submitted leaves, in tree order.
  const served: Uint8Array[] = [];
  while (served.length < head.size) {
    const res = await http(`${url}/get-leaves/${served.length}/${head.size}`);
    assert.equal(res.status, 200, res.body);
    for (const leaf of parseLeaves(res.body)) served.push(leafHash(encodeTreeLeaf(leaf)));
  }
  const submitted = new Set(leaves.map((l) => toHex(l.leafHash)));
  assert.equal(new Set(served.map(toHex)).size, 500);
  for (const h of served) assert.ok(submitted.has(toHex(h)));

  // Consistency between every pair of successive heads observed.
  const heads = [...headsBySize.values()].sort((a, b) => a.size - b.size);
  assert.ok(heads.length >= 2, `observed ${heads.length} distinct heads`);
  for (let i = 1; i < heads.length; i++) {
    const a = heads[i - 1]!;
    const b = heads[i]!;
    if (a.size === 0) continue;
    const res = await http(`${url}/get-consistency-proof/${a.size}/${b.size}`);
    assert.equal(res.status, 200, res.body);
    assert.ok(verifyConsistency(a.size, b.size, a.rootHash, b.rootHash, parseConsistencyProof(res.body)), `consistency ${a.size} → ${b.size}`);
  }

  // Resubmitting a published leaf answers 200 at once and adds nothing.
  assert.equal((await http(`${url}/add-leaf`, { method: 'POST', body: leaves[0]!.body })).status, 200);
  await new Promise((r) => setTimeout(r, 700));
  const after = await observe();
  assert.equal(after.size, 500);
  assert.ok(bytesEqual(after.rootHash, head.rootHash));
});
