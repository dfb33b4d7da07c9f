// The info page and the status pages in a real browser (Debian's chromium,
// driven by playwright-core; never a downloaded browser), loaded from running
// nodes (child processes): the sizes shown match the API, the status page
// updates itself after more leaves arrive, and the info page is complete
// without JavaScript. Plus the escaping of hostile text and a table of bad
// requests against the new routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { formatOpenSshPublicKey } from '../../src/crypto/keyfile.js';
import { keyHash } from '../../src/crypto/index.js';
import { parseTreeHead } from '../../src/formats/messages.js';
import { toHex } from '../../src/hex.js';
import { statusPage } from '../../src/ops/pages.js';
import type { PrimaryStatusJson } from '../../src/ops/primary-status.js';
import { versionString } from '../../src/version.js';
import { requireComponent } from '../helpers/components.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { http } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { policyText, startOurWitness, startPrimaryWithPolicy, treeHead, witnessSpecs } from '../witness/cluster.js';

/**
 * The page's document, in functions that run in the page (playwright
 * serializes them; functions rather than strings, because the pages' CSP
 * forbids eval). The project compiles without DOM types, hence this narrow one.
 */
type InPage = { document: { querySelector(s: string): { textContent: string | null } | null } };

const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('info and status pages in chromium: sizes as the API serves them, the status page follows new leaves', { timeout: 240_000 }, async (t) => {
  const chromiumPath = requireComponent(t, 'chromium');
  if (chromiumPath === undefined) return;
  const dir = tempDir('sigsum-pages-');
  t.after(() => dir.remove());
  const [w] = await witnessSpecs(dir.path, 1);
  let witness: Awaited<ReturnType<typeof startOurWitness>> | undefined;
  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '500ms', timeout: '3s', secondary: true }, async (setup, logPub) => {
    witness = await startOurWitness(t, w!, logPub);
    return policyText(setup.signer, setup.publicUrl, [{ name: 'w1', key: w!.key, url: w!.url }], 'quorum w1');
  });
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  await submitUntilPublished(c.setup.publicUrl, Array.from({ length: 5 }, () => makeLeaf(submitter)));

  const browser: Browser = await chromium.launch({ executablePath: chromiumPath, args: LAUNCH_ARGS });
  t.after(() => browser.close());
  const shot = (name: string): string => join(dir.path, `${name}.png`);
  const version = versionString();

  // The public info page, with JavaScript off: it is complete without it.
  const noJs = await browser.newContext({ javaScriptEnabled: false });
  const info = await noJs.newPage();
  const infoRes = await info.goto(`${c.setup.publicUrl}/`);
  assert.equal(infoRes?.status(), 200);
  assert.match(infoRes?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
  const head = await treeHead(c);
  const text = async (sel: string): Promise<string> => ((await info.textContent(sel)) ?? '').trim();
  assert.equal(await text('[data-k=publishedSize]'), String(head.size));
  assert.equal(await text('[data-k=publishedRootHash]'), toHex(head.rootHash));
  const logKey = c.setup.signer.publicKey;
  assert.equal(await text('[data-k=publicKey]'), toHex(logKey));
  assert.equal(await text('[data-k=publicKeyOpenSsh]'), formatOpenSshPublicKey(logKey).trim());
  assert.equal(await text('[data-k=keyHash]'), toHex(keyHash(logKey)));
  assert.equal(await text('[data-k=policyLine]'), `log ${toHex(logKey)} ${c.setup.publicUrl}`);
  assert.equal(await text('[data-k=cosignedBy]'), 'w1');
  assert.match(await text('[data-k=headAge]'), /^\d+ s ago$/);
  assert.ok((await info.textContent('body'))?.includes(`sigsum-log ${version}`));
  await info.screenshot({ path: shot('info-page'), fullPage: true });

  // The primary's status page, through the internal listener.
  const ctx = await browser.newContext();
  const status = await ctx.newPage();
  assert.equal((await status.goto(`${c.setup.internalUrl}/`))?.status(), 200);
  const shown = async (k: string): Promise<string> => ((await status.textContent(`[data-k="${k}"]`)) ?? '').trim();
  assert.equal(await shown('publishedSize'), String(head.size));
  const local = parseTreeHead((await http(`${c.setup.internalUrl}/get-tree-head-unsigned`)).body).size;
  assert.equal(await shown('localSize'), String(local));
  assert.equal(await shown('version'), version);
  const secondaryRow = (await status.textContent('table[data-list=secondaries] tbody')) ?? '';
  assert.ok(secondaryRow.includes(c.secondary!.setup.internalUrl), secondaryRow);
  const witnessRow = (await status.textContent('table[data-list=witnesses] tbody')) ?? '';
  assert.ok(witnessRow.includes('w1') && witnessRow.includes('cosigned'), witnessRow);

  // More leaves: the open page updates itself (no reload) to the new published size.
  await submitUntilPublished(c.setup.publicUrl, Array.from({ length: 7 }, () => makeLeaf(submitter)));
  const newSize = (await treeHead(c)).size;
  assert.ok(newSize >= head.size + 7);
  await status.waitForFunction((want) => (globalThis as unknown as InPage).document.querySelector('[data-k="publishedSize"]')?.textContent === want, String(newSize), { timeout: 30_000 });
  await status.waitForFunction(() => /^updated /.test((globalThis as unknown as InPage).document.querySelector('#updated')?.textContent ?? ''), undefined, { timeout: 30_000 });
  const witnessCells = await status.$$eval('table[data-list=witnesses] tbody td', (tds) => tds.map((td) => td.textContent ?? ''));
  assert.ok(witnessCells.includes(String(newSize)), `the witness row shows the new cosigned size: ${witnessCells.join(' | ')}`);
  await status.screenshot({ path: shot('primary-status-page'), fullPage: true });

  // The secondary's status page shows its verified size, as its internal API serves it.
  const sec = await ctx.newPage();
  await sec.goto(`${c.secondary!.setup.internalUrl}/`);
  const verified = parseTreeHead((await http(`${c.secondary!.setup.internalUrl}/get-tree-head-unsigned`)).body).size;
  await sec.waitForFunction((want) => Number((globalThis as unknown as InPage).document.querySelector('[data-k="verifiedSize"]')?.textContent) >= want, verified, { timeout: 30_000 });
  assert.ok(((await sec.textContent('[data-k="upstream"]')) ?? '').includes(`127.0.0.1:${c.setup.internalPort}`));
  await sec.screenshot({ path: shot('secondary-status-page'), fullPage: true });
  process.stderr.write(`screenshots: ${shot('info-page')} ${shot('primary-status-page')} ${shot('secondary-status-page')}\n`);
  // To look at them after the run (the temp directory is removed): SIGSUM_KEEP_SCREENSHOTS=<dir>.
  const keep = process.env.SIGSUM_KEEP_SCREENSHOTS;
  if (keep !== undefined) for (const n of ['info-page', 'primary-status-page', 'secondary-status-page']) writeFileSync(join(keep, `${n}.png`), readFileSync(shot(n)));
  await browser.close();
  await c.primary.kill9();
  await c.secondary!.process.kill9();
  await witness!.kill9();
});

test('status page: text from peers is escaped, never markup', () => {
  const hostile = '<img src=x onerror=alert(1)>"\'&';
  const snapshot: PrimaryStatusJson = {
    role: 'primary', version: '1.0 <b>', lifecycleState: 'appending', time: 0, startTime: 0, uptimeSeconds: 0, logKeyHash: 'ab', localSize: 1, publishedSize: 1, publishedRootHash: 'cd',
    newestCosignatureTime: null, headAgeSeconds: null, lastRotation: null, pendingLeaves: 0, verifyQueueDepth: 0, addLeafRequestsPerSecond: 0, sequencedLeavesPerSecond: 0,
    secondaries: [{ url: 'http://s/', replicatedSize: 1, lagLeaves: 0, lagSeconds: 0, reachable: true, lastErrorClass: 'inconsistent', lastError: hostile, lastAnswerTime: 0 }],
    witnesses: [{ name: hostile, url: 'http://w/', keyHash: 'ef', lastCosignedSize: null, lastAnswer: 'garbage', lastAnswerTime: null, lastError: hostile, cosignedPublishedHead: false }],
    health: { ok: false, reason: hostile },
  };
  const html = statusPage(snapshot);
  assert.ok(!html.includes('<img'), 'no markup from the snapshot');
  assert.ok(!html.includes('<b>'));
  assert.equal(html.split('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;').length - 1, 4, 'each hostile value shown, escaped');
});

test('pages: bad requests get one-line 4xx answers; unknown endpoints stay 404', async (t) => {
  const dir = tempDir('sigsum-pages-bad-');
  t.after(() => dir.remove());
  const c = await startPrimaryWithPolicy(t, dir.path, { interval: '500ms' }, async (setup) => `log ${toHex(setup.signer.publicKey)}\nquorum none\n`);
  const cases: Array<{ url: string; init?: RequestInit; status: number; body: RegExp }> = [
    { url: `${c.setup.publicUrl}/`, init: { method: 'POST' }, status: 405, body: /^method not allowed; use GET\n$/ },
    { url: `${c.setup.publicUrl}//`, status: 400, body: /^\/ takes no path arguments\n$/ },
    { url: `${c.setup.publicUrl}/index.html`, status: 404, body: /^unknown endpoint \/index\.html\n$/ },
    { url: `${c.setup.publicUrl}/status.json`, status: 404, body: /^unknown endpoint/ },
    { url: `${c.setup.publicUrl}/metrics`, status: 404, body: /^unknown endpoint/ },
    { url: `${c.setup.internalUrl}/`, init: { method: 'POST' }, status: 405, body: /^method not allowed; use GET\n$/ },
    { url: `${c.setup.internalUrl}/status.json`, init: { method: 'POST' }, status: 405, body: /^method not allowed; use GET\n$/ },
    { url: `${c.setup.internalUrl}/status.json/1`, status: 400, body: /^status\.json takes no path arguments\n$/ },
    { url: `${c.setup.internalUrl}/status.html`, status: 404, body: /^unknown endpoint/ },
  ];
  for (const k of cases) {
    const res = await http(k.url, k.init);
    assert.equal(res.status, k.status, `${k.init?.method ?? 'GET'} ${k.url}: ${res.body}`);
    assert.match(res.body, k.body, k.url);
  }
  // A forged Host is not echoed into the page's URL and policy line.
  const forged = await http(`${c.setup.publicUrl}/`, { headers: { 'x-forwarded-host': 'evil"><script>x</script>' } });
  assert.equal(forged.status, 200);
  assert.ok(!forged.body.includes('<script>x'), 'forged host not echoed');
  assert.ok(forged.body.includes(`log ${toHex(c.setup.signer.publicKey)} http://`));
  const json = JSON.parse((await http(`${c.setup.internalUrl}/status.json`)).body) as PrimaryStatusJson;
  assert.equal(json.role, 'primary');
  assert.equal(json.publishedSize, (await treeHead(c)).size);
  await c.primary.kill9();
});
