// log-go's witness metrics as our cosigner reports them, against real
// witnesses over HTTP on 127.0.0.1 (ours, one that hangs, one that answers
// garbage, one that answers 503) and real SQLite files for the remembered
// sizes: the status and retried labels mean what log-go's doc/metrics.md says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { keyHash } from '../../src/crypto/index.js';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { parsePolicy } from '../../src/formats/policy.js';
import { toHex } from '../../src/hex.js';
import { buildRegistry } from '../../src/ops/exposition.js';
import { PrimaryStatus } from '../../src/ops/primary-status.js';
import { WitnessCosigner } from '../../src/primary/witness-cosigner.js';
import { SqliteCosignedSizes } from '../../src/primary/witness-sizes.js';
import { startWitness } from '../../src/witness/run.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { waitUntil } from '../helpers/node-process.js';
import { startBadWitness } from '../witness/bad-witnesses.js';
import { capturingLogger, memoryTree } from '../witness/fixtures.js';

test('witness metrics: 200, retried after 409, HTTP error status, and "other" for a timeout or a bad cosignature', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('sigsum-witness-metrics-');
  t.after(() => dir.remove());
  const logKey = makeKey(join(dir.path, 'log.key'));
  const tree = memoryTree(20);
  const good = makeKey(join(dir.path, 'good.key'));
  const ours = await startWitness({ keyFile: join(dir.path, 'good.key'), logPubkeyFiles: [join(dir.path, 'log.key.pub')], stateFile: join(dir.path, 'good.state'), listen: '127.0.0.1:0' }, capturingLogger());
  t.after(() => ours.stop());
  const hang = await startBadWitness({ kind: 'hang' });
  t.after(() => hang.close());
  const garbage = await startBadWitness({ kind: 'garbage' });
  t.after(() => garbage.close());
  const busy = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(503, { 'content-type': 'text/plain' }).end('busy\n'));
  });
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => busy.close(() => r())));
  const busyUrl = `http://127.0.0.1:${(busy.address() as AddressInfo).port}`;
  const others = [1, 2, 3].map((i) => makeKey(join(dir.path, `other${i}.key`)));
  const policy = parsePolicy(
    [
      `log ${toHex(logKey.publicKey)}`,
      `witness good ${toHex(good.publicKey)} ${ours.url}`,
      `witness hang ${toHex(others[0]!.publicKey)} ${hang.url}`,
      `witness garbage ${toHex(others[1]!.publicKey)} ${garbage.url}`,
      `witness busy ${toHex(others[2]!.publicKey)} ${busyUrl}`,
      'quorum good',
      '',
    ].join('\n'),
  );
  const status = new PrimaryStatus({ version: 'test', lifecycleState: 'appending', logKeyHashHex: toHex(keyHash(logKey.publicKey)), intervalMs: 1000, idleIntervalMs: 1000 });
  const cosigner = (dbFile: string): WitnessCosigner => {
    const db = new Database(join(dir.path, dbFile));
    t.after(() => db.close());
    return new WitnessCosigner({
      policy,
      logPublicKey: logKey.publicKey,
      logKeyHash: keyHash(logKey.publicKey),
      consistencyProof: (a, b) => tree.proof(a, b),
      sizes: new SqliteCosignedSizes(db),
      timeoutMs: 1500,
      nowSeconds: () => Math.floor(Date.now() / 1000),
      nowMs: () => Date.now(),
      log: capturingLogger(),
      observer: status,
    });
  };
  const sth = (size: number) => signTreeHead(logKey, { size, rootHash: tree.root(size) });

  assert.ok((await cosigner('a.db').cosign(sth(5), sth(5))) !== undefined, 'quorum (good) met');
  // A cosigner that remembers nothing sends old size 0: our witness, at 5, answers 409; the resend is cosigned.
  assert.ok((await cosigner('b.db').cosign(sth(10), sth(5))) !== undefined);

  // Only the witness families: the tree figures need a running node (see prometheus.test.ts).
  const registry = buildRegistry(status.families().filter((f) => f.name.includes('witness')));
  let text = await registry.metrics();
  const value = (series: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  const label = (url: string): string => url.replace(/^http:\/\//, '');
  const requests = (url: string, st: string, retried: boolean): number | undefined =>
    value(`sigsum_log_go_witness_checkpoint_requests_total{witness="${label(url)}",status="${st}",retried="${retried}"}`);
  // A witness still out when the quorum's grace ends is cut off; its exchange is
  // counted when it has ended (aborted), just after cosign returned.
  await waitUntil('the cut-off exchanges counted', async () => {
    text = await registry.metrics();
    return requests(hang.url, 'other', false) === 2 ? true : undefined;
  }, 10_000, 20);
  assert.equal(requests(ours.url, '200', false), 1);
  assert.equal(requests(ours.url, '200', true), 1, '409 then 200 is status 200, retried true');
  assert.equal(requests(hang.url, 'other', false), 2, 'a timeout is "other"');
  assert.equal(requests(garbage.url, 'other', false), 2, 'a 200 without a valid cosignature is "other"');
  assert.equal(requests(busyUrl, '503', false), 2, "the witness's HTTP error status");
  assert.equal(value(`sigsum_log_go_witness_checkpoint_request_latency_count{witness="${label(ours.url)}"}`), 2, 'latency of successes only');
  assert.equal(value(`sigsum_log_go_witness_checkpoint_request_latency_count{witness="${label(hang.url)}"}`), undefined);
  assert.equal(value('sigsum_log_go_witness_quorum_total{status="true"}'), 2);
  assert.equal(value('sigsum_log_go_witness_quorum_total{status="false"}'), 0);
  assert.equal(value('sigsum_log_go_witness_quorum_latency_count'), 2);
  // The quorum was complete when the good witness answered, well before the hanging one timed out.
  assert.ok((value('sigsum_log_go_witness_quorum_latency_sum') as number) < 1.5, text);
  assert.equal(value(`sigsum_log_witness_cosigned_size{witness="${label(ours.url)}"}`), 10);
  assert.equal(value(`sigsum_log_witness_cosigned_size{witness="${label(busyUrl)}"}`), undefined);
});

test('witness cosigned size: a new cosigner (a restarted primary) reports the size stored in its database before any round', async (t) => {
  const dir = tempDir('sigsum-witness-stored-');
  t.after(() => dir.remove());
  const logKey = makeKey(join(dir.path, 'log.key'));
  const witnessKey = makeKey(join(dir.path, 'w.key'));
  const idle = makeKey(join(dir.path, 'idle.key'));
  const policy = parsePolicy(
    [
      `log ${toHex(logKey.publicKey)}`,
      `witness w ${toHex(witnessKey.publicKey)} http://127.0.0.1:9/`,
      `witness idle ${toHex(idle.publicKey)} http://127.0.0.1:9/`,
      'quorum w',
      '',
    ].join('\n'),
  );
  const dbFile = join(dir.path, 'primary.db');
  const before = new Database(dbFile);
  new SqliteCosignedSizes(before).set(toHex(keyHash(witnessKey.publicKey)), 1234);
  before.close();

  const db = new Database(dbFile);
  t.after(() => db.close());
  const status = new PrimaryStatus({ version: 'test', lifecycleState: 'appending', logKeyHashHex: toHex(keyHash(logKey.publicKey)), intervalMs: 1000, idleIntervalMs: 1000 });
  new WitnessCosigner({
    policy,
    logPublicKey: logKey.publicKey,
    logKeyHash: keyHash(logKey.publicKey),
    consistencyProof: () => [],
    sizes: new SqliteCosignedSizes(db),
    timeoutMs: 1500,
    nowSeconds: () => Math.floor(Date.now() / 1000),
    nowMs: () => Date.now(),
    log: capturingLogger(),
    observer: status,
  });
  const text = await buildRegistry(status.families().filter((f) => f.name === 'sigsum_log_witness_cosigned_size')).metrics();
  const samples = text.split('\n').filter((l) => l.startsWith('sigsum_log_witness_cosigned_size{'));
  // The witness with a stored size has its sample; the one never cosigned has none.
  assert.equal(samples.length, 1, text);
  assert.match(samples[0]!, / 1234$/);
});
