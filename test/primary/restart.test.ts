// kill -9 during a burst of submissions: every leaf answered 200 survives at
// the same index, and the head after restart is consistent with every head
// seen before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { toHex } from '../../src/hex.js';
import { parseConsistencyProof, parseCosignedTreeHead, parseInclusionProof } from '../../src/formats/messages.js';
import { verifyConsistency, verifyInclusion } from '../../src/tree/verify.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { makeLeaf, type TestLeaf } from '../helpers/submitter.js';

/** fetch's failure when the server is gone (TypeError) or too slow (TimeoutError). */
function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError || (err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError';
}

async function head(url: string): Promise<CosignedTreeHead> {
  return parseCosignedTreeHead((await http(`${url}/get-tree-head`)).body);
}

test('primary: kill -9 mid-burst loses no leaf answered 200', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path, { interval: '200ms' });
  let primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const url = setup.publicUrl;
  const submitter = makeKey(join(dir.path, 'submitter.key'));

  const answered200 = new Set<string>(); // every leaf that got 200
  const confirmed = new Map<string, number>(); // leaf hash → index, where the proof came back before the kill
  const heads: CosignedTreeHead[] = [];
  let stop = false;
  const client = async (): Promise<void> => {
    while (!stop) {
      const leaf: TestLeaf = makeLeaf(submitter);
      for (let tries = 0; !stop && tries < 100; tries++) {
        let status: number;
        try {
          status = (await http(`${url}/add-leaf`, { method: 'POST', body: leaf.body }, 2000)).status;
        } catch {
          return; // the server is gone
        }
        if (status === 200) {
          answered200.add(toHex(leaf.leafHash));
          let h: CosignedTreeHead;
          let res: Awaited<ReturnType<typeof http>>;
          try {
            h = await head(url);
            res = await http(`${url}/get-inclusion-proof/${h.size}/${toHex(leaf.leafHash)}`);
          } catch (err) {
            if (isNetworkError(err)) break; // killed between the 200 and the proof: checked after the restart
            throw err;
          }
          assert.equal(res.status, 200, `a leaf answered 200 has an inclusion proof: ${res.body}`);
          const proof = parseInclusionProof(res.body);
          assert.ok(verifyInclusion(leaf.leafHash, proof.leafIndex, h.size, proof.path, h.rootHash));
          confirmed.set(toHex(leaf.leafHash), proof.leafIndex);
          heads.push(h);
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const clients = Array.from({ length: 16 }, client);
  await waitUntil('at least 200 confirmed leaves', () => (confirmed.size >= 200 ? true : undefined), 30_000);
  await primary.kill9(); // mid-burst
  stop = true;
  await Promise.all(clients);
  const lastSeen = heads.reduce((a, b) => (b.size > a.size ? b : a));

  primary = await startNodeProcess('primary', setup);
  const after = await head(url);
  assert.ok(after.size >= lastSeen.size, `size after restart ${after.size} ≥ last seen ${lastSeen.size}`);
  if (after.size > lastSeen.size) {
    const proof = parseConsistencyProof((await http(`${url}/get-consistency-proof/${lastSeen.size}/${after.size}`)).body);
    assert.ok(verifyConsistency(lastSeen.size, after.size, lastSeen.rootHash, after.rootHash, proof));
  } else {
    assert.deepEqual(after.rootHash, lastSeen.rootHash);
  }
  for (const hash of answered200) {
    const res = await http(`${url}/get-inclusion-proof/${after.size}/${hash}`);
    assert.equal(res.status, 200, `leaf ${hash} answered 200 before the crash is still there`);
    const index = confirmed.get(hash);
    if (index !== undefined) assert.equal(parseInclusionProof(res.body).leafIndex, index, 'at the same index');
  }
  // Still serving: a new leaf gets published.
  const fresh = makeLeaf(submitter);
  await waitUntil('new leaf published after restart', async () => ((await http(`${url}/add-leaf`, { method: 'POST', body: fresh.body })).status === 200 ? true : undefined), 20_000, 100);
});
