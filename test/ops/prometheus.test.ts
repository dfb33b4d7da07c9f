// A real Prometheus (Debian's package) scrapes a primary, a secondary and a
// witness, all real child processes, with the internal bearer token set; the
// figures are read back through Prometheus's HTTP query API and compared with
// what was sent and what get-tree-head serves. promtool lints every node's
// /metrics output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCosignedTreeHead } from '../../src/formats/messages.js';
import { requireComponent } from '../helpers/components.js';
import { makeKey, preparePrimary, prepareSecondary, startNodeProcess, tempDir, writePrimaryConfig } from '../helpers/log-fixture.js';
import { freePort, http, NodeProcess, waitUntil } from '../helpers/node-process.js';
import { addLeaf, makeLeaf } from '../helpers/submitter.js';
import { policyText, startOurWitness, witnessSpecs } from '../witness/cluster.js';
import { promtoolProblems } from './promtool.js';

const TOKEN = 'metrics-test-token-1234';

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, q: string): Promise<PromVector[]> {
  const res = await http(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  assert.equal(res.status, 200, res.body);
  const json = JSON.parse(res.body) as { status: string; data: { result: PromVector[] } };
  assert.equal(json.status, 'success');
  return json.data.result;
}

/** The single value of a query, or undefined while Prometheus has none. */
async function scalar(base: string, q: string): Promise<number | undefined> {
  const r = await query(base, q);
  if (r.length === 0) return undefined;
  assert.equal(r.length, 1, `${q}: one series expected, got ${JSON.stringify(r)}`);
  return Number(r[0]!.value[1]);
}

test('Prometheus scrapes primary, secondary and witness: add-leaf requests counted exactly, published size as served', { timeout: 240_000 }, async (t) => {
  const prometheus = requireComponent(t, 'prometheus');
  if (prometheus === undefined) return;
  const promtool = requireComponent(t, 'promtool');
  if (promtool === undefined) return;
  const dir = tempDir('sigsum-prom-');
  t.after(() => dir.remove());
  const tokenFile = join(dir.path, 'internal.token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const top = { 'internal-token-file': tokenFile, timeout: '2s' };

  // Witness first (the policy names it), then the secondary, then the primary.
  const primary = await preparePrimary(join(dir.path, 'p'), { interval: '300ms', top });
  const logPub = `${primary.keyFile}.pub`;
  const [w1] = await witnessSpecs(dir.path, 1);
  await startOurWitness(t, w1!, logPub);
  const policyFile = join(dir.path, 'policy');
  writeFileSync(policyFile, policyText(primary.signer, primary.publicUrl, [{ name: 'w1', key: w1!.key, url: w1!.url }], 'quorum w1'));
  const secondary = await prepareSecondary(join(dir.path, 's'), { primaryUrl: primary.internalUrl, interval: '100ms', top });
  writePrimaryConfig(primary, {
    interval: '300ms',
    top,
    primary: { 'policy-file': policyFile },
    secondaries: [{ url: secondary.internalUrl, pubkeyFile: `${secondary.keyFile}.pub` }],
  });
  const sec = await startNodeProcess('secondary', secondary);
  t.after(() => sec.kill9());
  const prim = await startNodeProcess('primary', primary);
  t.after(() => prim.kill9());

  // The token guards /metrics like every internal request; /health stays open.
  assert.equal((await http(`${primary.internalUrl}/metrics`)).status, 401);
  assert.equal((await http(`${primary.internalUrl}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 403);
  assert.notEqual((await http(`${primary.internalUrl}/health`)).status, 401);
  assert.notEqual((await http(`${secondary.internalUrl}/health`)).status, 401);

  // Prometheus, scraping every second.
  const promPort = await freePort();
  const promDir = join(dir.path, 'prom');
  mkdirSync(join(promDir, 'data'), { recursive: true });
  const job = (name: string, target: string, auth: boolean): string =>
    [
      `  - job_name: ${name}`,
      ...(auth ? ['    authorization:', '      type: Bearer', `      credentials_file: ${tokenFile}`] : []),
      '    static_configs:',
      `      - targets: ['${target}']`,
    ].join('\n');
  const promConfig = join(promDir, 'prometheus.yml');
  writeFileSync(
    promConfig,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      job('primary', `127.0.0.1:${primary.internalPort}`, true),
      job('secondary', `127.0.0.1:${secondary.internalPort}`, true),
      job('witness', `127.0.0.1:${w1!.port}`, false),
      '',
    ].join('\n'),
  );
  const proc = new NodeProcess(
    spawn(prometheus, [`--config.file=${promConfig}`, `--web.listen-address=127.0.0.1:${promPort}`, `--storage.tsdb.path=${join(promDir, 'data')}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    'prometheus',
  );
  t.after(() => proc.kill9());
  await proc.waitForOutput(/Server is ready to receive web requests/, 60_000);
  const prom = `http://127.0.0.1:${promPort}`;

  for (const name of ['primary', 'secondary', 'witness']) {
    await waitUntil(`Prometheus scraped the ${name}`, async () => ((await scalar(prom, `up{job="${name}"}`)) === 1 ? true : undefined), 60_000, 250);
  }
  const addLeafRequests = `sigsum_log_go_http_req{job="primary",endpoint="add-leaf"}`;
  const before = await waitUntil('the add-leaf counter in Prometheus', () => scalar(prom, addLeafRequests), 30_000, 250);
  assert.equal(before, 0, 'no add-leaf request was sent yet');

  // Exactly N add-leaf requests, one per new leaf.
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const N = 25;
  for (let i = 0; i < N; i++) {
    const status = await addLeaf(primary.publicUrl, makeLeaf(submitter));
    assert.ok(status === 200 || status === 202, `add-leaf answered ${status}`);
  }
  await waitUntil(`Prometheus sees ${N} add-leaf requests`, async () => ((await scalar(prom, addLeafRequests)) === N ? true : undefined), 60_000, 250);
  const answered = await query(prom, `sigsum_log_go_http_rsp{job="primary",endpoint="add-leaf"}`);
  assert.equal(answered.reduce((n, r) => n + Number(r.value[1]), 0), N, 'every request answered once');
  assert.ok(answered.every((r) => r.metric.status === '202' || r.metric.status === '200'), JSON.stringify(answered));
  assert.equal(await scalar(prom, `sigsum_log_go_http_latency_count{job="primary",endpoint="add-leaf",status="202"}`), Number(answered.find((r) => r.metric.status === '202')?.value[1] ?? NaN));

  // The published-size gauge equals what get-tree-head serves, once all N are published.
  await waitUntil('all leaves published', async () => {
    const res = await http(`${primary.publicUrl}/get-tree-head`);
    return res.status === 200 && parseCosignedTreeHead(res.body).size === N ? true : undefined;
  }, 60_000, 100);
  const served = parseCosignedTreeHead((await http(`${primary.publicUrl}/get-tree-head`)).body);
  await waitUntil('Prometheus sees the published size', async () => ((await scalar(prom, `sigsum_log_published_tree_size{job="primary"}`)) === served.size ? true : undefined), 60_000, 250);
  const newestCosignature = Math.max(...served.cosignatures.map((c) => c.timestamp));
  await waitUntil('Prometheus sees a cosignature at least as new as the served one', async () => {
    const v = await scalar(prom, `sigsum_log_published_cosignature_timestamp_seconds{job="primary"}`);
    return v !== undefined && v >= newestCosignature ? true : undefined;
  }, 60_000, 250);
  // get-tree-head calls were counted under log-go's label.
  await waitUntil('Prometheus sees get-tree-head requests', async () => (((await scalar(prom, `sigsum_log_go_http_req{job="primary",endpoint="get-tree-head"}`)) ?? 0) >= 1 ? true : undefined), 60_000, 250);

  // The secondary's and the witness's own figures.
  await waitUntil('Prometheus sees the secondary verified all leaves', async () => (((await scalar(prom, `sigsum_log_verified_tree_size{job="secondary"}`)) ?? 0) >= N ? true : undefined), 60_000, 250);
  await waitUntil('Prometheus sees the primary count the secondary', async () => (((await scalar(prom, `sigsum_log_secondary_replicated_tree_size{job="primary"}`)) ?? 0) >= N ? true : undefined), 60_000, 250);
  assert.equal(await scalar(prom, `sigsum_log_secondary_reachable{job="primary"}`), 1);
  assert.ok(((await scalar(prom, `sigsum_log_go_http_req{job="secondary",endpoint="get-secondary-tree-head"}`)) ?? 0) + ((await scalar(prom, `sigsum_log_go_http_req{job="secondary",endpoint="get-tree-head-to-cosign"}`)) ?? 0) > 0, 'the gate asks the secondary');
  assert.ok(((await scalar(prom, `sigsum_log_go_http_req{job="witness",endpoint="add-checkpoint"}`)) ?? 0) > 0);
  const witnessLabel = `127.0.0.1:${w1!.port}`;
  assert.ok(((await scalar(prom, `sigsum_log_go_witness_checkpoint_requests_total{job="primary",witness="${witnessLabel}",status="200",retried="false"}`)) ?? 0) > 0);
  assert.ok(((await scalar(prom, `sigsum_log_go_witness_quorum_total{job="primary",status="true"}`)) ?? 0) > 0);
  await waitUntil('Prometheus sees the witness cosigned size', async () => ((await scalar(prom, `sigsum_log_witness_cosigned_size{job="primary"}`)) === N ? true : undefined), 60_000, 250);
  for (const name of ['primary', 'secondary', 'witness']) {
    const info = await query(prom, `sigsum_log_build_info{job="${name}"}`);
    assert.equal(info.length, 1, name);
    assert.match(info[0]!.metric.version ?? '', /^\d+\.\d+\.\d+/);
  }
  assert.ok(((await scalar(prom, `process_cpu_seconds_total{job="primary"}`)) ?? -1) >= 0, 'default process metrics');
  assert.ok((await query(prom, `nodejs_heap_size_used_bytes{job="secondary"}`)).length === 1, 'default Node.js metrics');

  // promtool accepts every node's output (only log-go's own counter names draw its _total lint).
  const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
  for (const url of [`${primary.internalUrl}/metrics`, `${secondary.internalUrl}/metrics`, `${w1!.url}/metrics`]) {
    const res = await http(url, auth);
    assert.equal(res.status, 200, url);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^# HELP sigsum_log_go_http_req /m);
    assert.match(res.body, /^# TYPE sigsum_log_go_http_latency histogram$/m);
    assert.deepEqual(await promtoolProblems(promtool, res.body), [], url);
  }
});
