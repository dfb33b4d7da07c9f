// Secondaries as read replicas, as real processes: a secondary with
// log-pubkey-file serves the public reads for the published head it verified,
// answering exactly as the primary does for that head (same tree head text,
// proofs, leaves, tiles, status codes), with its own max-range; add-leaf is
// 404 naming the primary; without log-pubkey-file (or with serve-reads off)
// it is 404 "not primary" as before. With the primary gone it keeps serving
// the last head it verified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeTreeLeaf } from '../../src/formats/leaf.js';
import { leafHash } from '../../src/tree/hash.js';
import { parseCosignedTreeHead, parseLeaves } from '../../src/formats/messages.js';
import { toHex } from '../../src/hex.js';
import { makeKey, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { prepareCluster } from './fixture.js';

async function bytes(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

test('read replica: answers as the primary for the published head it verified; add-leaf is 404; bad input is 4xx', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const REPLICA_MAX_RANGE = 7;
  const { primary, secondaries } = await prepareCluster(dir.path, {
    secondaries: 3,
    logPubkey: true,
    secondaryKeys: (i): Record<string, number | boolean> | undefined =>
      i === 0 ? { 'read-max-range': REPLICA_MAX_RANGE } : i === 1 ? { 'serve-reads': false } : undefined,
  });
  // Secondary 2 gets no log-pubkey-file: its config is rewritten without it.
  const [replica, readsOff, plain] = secondaries as [typeof secondaries[0], typeof secondaries[0], typeof secondaries[0]];
  writeFileSync(plain.config, readFileSync(plain.config, 'utf8').replace(/^log-pubkey-file = .*\n/m, ''));
  const procs = await Promise.all(secondaries.map((s) => startNodeProcess('secondary', s)));
  t.after(() => Promise.all(procs.map((p) => p.kill9())));
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());

  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const leaves = Array.from({ length: 300 }, () => makeLeaf(submitter));
  await submitUntilPublished(primary.publicUrl, leaves, 60_000, 16);

  // The replica's head is the primary's published head, byte for byte.
  const headText = await waitUntil('the replica serves the primary\'s published head', async () => {
    const [p, r] = await Promise.all([http(`${primary.publicUrl}/get-tree-head`), http(`${replica.publicUrl}/get-tree-head`)]);
    return r.status === 200 && r.body === p.body && parseCosignedTreeHead(p.body).size === 300 ? r.body : undefined;
  }, 30_000, 100);
  const head = parseCosignedTreeHead(headText);

  // Proofs, leaves and tiles: the same answers (leaves clamped to the replica's own max-range).
  const same = async (path: string): Promise<void> => {
    const [p, r] = await Promise.all([bytes(`${primary.publicUrl}${path}`), bytes(`${replica.publicUrl}${path}`)]);
    assert.equal(p.status, 200, `primary ${path}: ${p.body.toString()}`);
    assert.equal(r.status, 200, `replica ${path}: ${r.body.toString()}`);
    assert.ok(r.body.length > 0 && r.body.equals(p.body), `${path}: same body`);
  };
  for (const i of [0, 1, 2, 150, 255, 256, 299]) {
    const hash = toHex(await leafHashAt(primary.internalUrl, i));
    for (const size of [i + 1, 300]) if (size >= 2) await same(`/get-inclusion-proof/${size}/${hash}`);
  }
  for (const [a, b] of [[1, 300], [7, 8], [255, 257], [256, 299]]) await same(`/get-consistency-proof/${a}/${b}`);
  for (const path of ['/checkpoint', '/tile/0/000', '/tile/0/001.p/44', '/tile/1/000.p/1', '/tile/entries/000', '/tile/entries/001.p/44']) await same(path);
  const replicaLeaves = await http(`${replica.publicUrl}/get-leaves/10/300`);
  const primaryLeaves = await http(`${primary.publicUrl}/get-leaves/10/17`);
  assert.equal(replicaLeaves.status, 200);
  assert.equal(replicaLeaves.body, primaryLeaves.body, 'clamped to the replica\'s read-max-range');
  assert.equal(replicaLeaves.body.split('\n').filter((l) => l.startsWith('leaf=')).length, REPLICA_MAX_RANGE);

  // Bad input: the replica answers each with the primary's status and a one-line message.
  const h = toHex(await leafHashAt(primary.internalUrl, 3));
  const cases: Array<{ path: string; method?: string; status: number }> = [
    { path: `/get-inclusion-proof/1/${h}`, status: 400 },
    { path: `/get-inclusion-proof/301/${h}`, status: 400 },
    { path: `/get-inclusion-proof/3/${h}`, status: 404 },
    { path: `/get-inclusion-proof/300/${'0'.repeat(64)}`, status: 404 },
    { path: `/get-inclusion-proof/300/zz`, status: 400 },
    { path: `/get-inclusion-proof/300`, status: 400 },
    { path: `/get-inclusion-proof/01/${h}`, status: 400 },
    { path: `/get-inclusion-proof/99999999999999999999/${h}`, status: 400 },
    { path: '/get-consistency-proof/0/5', status: 400 },
    { path: '/get-consistency-proof/5/5', status: 400 },
    { path: '/get-consistency-proof/5/301', status: 400 },
    { path: '/get-consistency-proof/-1/5', status: 400 },
    { path: '/get-leaves/300/301', status: 400 },
    { path: '/get-leaves/5/301', status: 400 },
    { path: '/get-leaves/5/5', status: 400 },
    { path: '/get-leaves/a/5', status: 400 },
    { path: '/get-leaves/%zz/5', status: 400 },
    { path: '/get-tree-head/extra', status: 400 },
    { path: '/get-tree-head', method: 'POST', status: 405 },
    { path: '/nope', status: 404 },
    { path: '/checkpoint/x', status: 400 },
    { path: '/tile/0/001', status: 404 }, // a full tile the head does not cover
    { path: '/tile/0/001.p/45', status: 404 },
    { path: '/tile/entries/002.p/1', status: 404 },
    { path: '/tile/0/1', status: 400 },
    { path: '/tile/0/x000/001', status: 400 },
    { path: '/tile/0/000.p/0', status: 400 },
    { path: '/tile/0/000.p/256', status: 400 },
    { path: '/tile/64/000', status: 400 },
    { path: '/tile/00/000', status: 400 },
    { path: '/tile/0', status: 400 },
    { path: '/tile', status: 400 },
    { path: '/tile/0/000', method: 'POST', status: 405 },
  ];
  for (const c of cases) {
    const init = c.method === undefined ? {} : { method: c.method };
    const [p, r] = await Promise.all([http(`${primary.publicUrl}${c.path}`, init), http(`${replica.publicUrl}${c.path}`, init)]);
    assert.equal(r.status, c.status, `replica ${c.method ?? 'GET'} ${c.path}: ${r.body}`);
    assert.equal(p.status, c.status, `primary ${c.method ?? 'GET'} ${c.path}: ${p.body}`);
    assert.match(r.body, /^[^\n]+\n$/, `${c.path}: one line`);
  }

  // add-leaf: 404 naming the primary, and nothing is sequenced.
  const add = await http(`${replica.publicUrl}/add-leaf`, { method: 'POST', body: makeLeaf(submitter).body });
  assert.equal(add.status, 404);
  assert.match(add.body, /^not primary: this node is a read replica; submit leaves to the log's primary\n$/);

  // Without log-pubkey-file, or with serve-reads = false: 404 "not primary" for everything.
  for (const s of [readsOff, plain]) {
    for (const path of ['/get-tree-head', '/checkpoint', '/get-leaves/0/1']) {
      const res = await http(`${s.publicUrl}${path}`);
      assert.equal(res.status, 404, `${s.config} ${path}`);
      assert.equal(res.body, 'not primary\n');
    }
  }

  // The primary goes away: the replica keeps serving the last head it verified.
  await primaryProc.kill9();
  // Until it has noticed: a poll against the dead upstream failed.
  await procs[0]!.waitForOutput(/WARNING .*cannot replicate from .*retrying every poll/, 30_000);
  const after = await http(`${replica.publicUrl}/get-tree-head`);
  assert.equal(after.status, 200);
  assert.equal(after.body, headText);
  assert.equal((await http(`${replica.publicUrl}/get-consistency-proof/1/${head.size}`)).status, 200);
  // Its age shows in the metrics: the size it serves, and seconds since the primary last confirmed it, growing.
  const age = async (): Promise<number> => {
    const metrics = (await http(`${replica.internalUrl}/metrics`)).body;
    assert.match(metrics, /^sigsum_log_replica_published_tree_size 300$/m);
    return Number(/^sigsum_log_replica_published_head_age_seconds (\d+)$/m.exec(metrics)?.[1] ?? NaN);
  };
  const first = await age();
  assert.ok(first >= 0, `age ${first}`);
  await waitUntil('the published head ages while the primary is gone', async () => ((await age()) >= first + 2 ? true : undefined), 20_000, 250);
});

async function leafHashAt(internalUrl: string, index: number): Promise<Uint8Array> {
  const res = await http(`${internalUrl}/get-leaves/${index}/${index + 1}`);
  return leafHash(encodeTreeLeaf(parseLeaves(res.body)[0] as NonNullable<ReturnType<typeof parseLeaves>[0]>));
}
