// GET /health on the internal endpoint, and the version string, against real
// nodes (child processes): a primary is healthy while its head gets cosigned,
// a secondary while it keeps up with its primary; each turns 503 with a
// one-line reason when that stops, and healthy again when it resumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { versionString } from '../../src/version.js';
import { prepareSecondary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { freePort, http, runCli, waitUntil } from '../helpers/node-process.js';
import { policyText, startOurWitness, startPrimaryWithPolicy, treeHead, witnessSpecs } from '../witness/cluster.js';

const TOKEN = 'health-test-token';

async function healthIs(url: string, status: number, body: RegExp, timeoutMs = 30_000): Promise<string> {
  let last = '';
  try {
    return await waitUntil(`${url}/health answers ${status} ${body}`, async () => {
      const res = await http(`${url}/health`);
      last = `${res.status} ${res.body}`;
      return res.status === status && body.test(res.body) ? res.body : undefined;
    }, timeoutMs, 100);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last answer: ${last}`);
  }
}

test('--version prints the version string; the same string is in the start-up line and sigsum_log_build_info', async (t) => {
  const version = versionString();
  assert.match(version, /^\d+\.\d+\.\d+( \(git [0-9a-f]{12}\))?$/);
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.output, `${version}\n`);

  const dir = tempDir('sigsum-version-');
  t.after(() => dir.remove());
  const [w] = await witnessSpecs(dir.path, 1);
  let witness: Awaited<ReturnType<typeof startOurWitness>> | undefined;
  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '1s' }, async (setup, logPub) => {
    witness = await startOurWitness(t, w!, logPub);
    return policyText(setup.signer, setup.publicUrl, [{ name: 'w1', key: w!.key, url: w!.url }], 'quorum w1');
  });
  assert.ok(c.primary.output.includes(`sigsum-log ${version};`), c.primary.output);
  assert.ok(witness!.output.includes(`sigsum-log ${version} witness;`), witness!.output);
  for (const url of [c.setup.internalUrl, w!.url]) {
    const metrics = await http(`${url}/metrics`);
    assert.ok(metrics.body.includes(`sigsum_log_build_info{version="${version}"} 1`), metrics.body);
  }
  // Stopped before the temp directory is removed (hooks run in order).
  await c.primary.kill9();
  await witness!.kill9();
});

test('primary /health: ok while cosigned, 503 with the reason once the witness is gone for 3 intervals, ok again after', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('sigsum-health-');
  t.after(() => dir.remove());
  const tokenFile = join(dir.path, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const [w] = await witnessSpecs(dir.path, 1);
  let witness: Awaited<ReturnType<typeof startOurWitness>> | undefined;
  let logPubFile = '';
  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '1s', timeout: '3s', secondary: true }, async (setup, logPub) => {
    logPubFile = logPub;
    witness = await startOurWitness(t, w!, logPub);
    return policyText(setup.signer, setup.publicUrl, [{ name: 'w1', key: w!.key, url: w!.url }], 'quorum w1');
  });
  const primary = c.setup.internalUrl;
  // Healthy because cosigned, not merely because it just started.
  await waitUntil('a cosigned head', async () => ((await treeHead(c)).cosignatures.length > 0 ? true : undefined), 60_000, 100);
  assert.equal(await healthIs(primary, 200, /^ok\n$/), 'ok\n');

  await witness!.kill9();
  // 3 × max(interval, idle-interval) = 3 s without a new cosignature.
  await healthIs(primary, 503, /^published tree head last cosigned \d+(\.\d)? s ago \(limit 3\.0 s\)\n$/);

  await startOurWitness(t, w!, logPubFile);
  await healthIs(primary, 200, /^ok\n$/);

  // The secondary: ok while it keeps up; the primary gone, 503 naming why.
  const secondary = c.secondary!.setup.internalUrl;
  await healthIs(secondary, 200, /^ok\n$/);
  await c.primary.kill9();
  // (Before its failed request returns, the reason has no "last error" yet.)
  const why = await healthIs(secondary, 503, /^last caught up with the upstream \d+(\.\d)? s ago \(limit 0\.3 s\); last error: .+\n$/);
  assert.equal(why.split('\n').length, 2, 'one line');
  await c.secondary!.process.kill9();
  await witness!.kill9();
});

test('/health is open with internal-token-file set; everything else on the internal API still needs the token', async (t) => {
  const dir = tempDir('sigsum-health-token-');
  t.after(() => dir.remove());
  const tokenFile = join(dir.path, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const deadUpstream = `http://127.0.0.1:${await freePort()}/`; // nothing listens there
  const s = await prepareSecondary(dir.path, { primaryUrl: deadUpstream, top: { 'internal-token-file': tokenFile } });
  const p = await startNodeProcess('secondary', s);
  t.after(() => p.kill9());
  const base = s.internalUrl;
  // Bad input, table-driven: method, arguments, and the token on and off.
  const cases: Array<{ path: string; init?: RequestInit; status: number; body?: RegExp }> = [
    { path: '/health', status: 503, body: /^not caught up with the upstream since start-up|^last caught up/ },
    { path: '/health', init: { headers: { authorization: 'Bearer wrong' } }, status: 503 },
    { path: '/health', init: { method: 'POST' }, status: 405, body: /^method not allowed; use GET\n$/ },
    { path: '/health/extra', status: 401, body: /^missing bearer token\n$/ },
    { path: '/health/extra', init: { headers: { authorization: `Bearer ${TOKEN}` } }, status: 400, body: /^health takes no path arguments\n$/ },
    { path: '/metrics', status: 401 },
    { path: '/metrics', init: { headers: { authorization: 'Bearer wrong' } }, status: 403 },
    { path: '/metrics', init: { headers: { authorization: `Bearer ${TOKEN}` } }, status: 200 },
    { path: '/metrics', init: { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } }, status: 405 },
    { path: '/get-tree-head-unsigned', status: 401 },
  ];
  // The upstream does not exist: once 3 intervals passed since start-up, /health is 503.
  await healthIs(base, 503, /./);
  for (const c of cases) {
    const res = await http(`${base}${c.path}`, c.init);
    assert.equal(res.status, c.status, `${c.init?.method ?? 'GET'} ${c.path}: ${res.body}`);
    if (c.body !== undefined) assert.match(res.body, c.body, c.path);
    assert.ok(res.body.endsWith('\n') && res.body.split('\n').length === 2 || c.path === '/metrics' && res.status === 200, `one line: ${c.path}`);
  }
  await p.kill9();
});
