// A full disk, for real: a primary whose database, sth file and log file live
// on a small tmpfs that a filler file fills. add-leaf answers 503 (never 500),
// the process does not crash, the published head is still served, a log line
// that cannot be written goes to stderr, and once the filler is removed the
// node resumes by itself; after a kill -9 every leaf ever answered 200 is in
// the tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseCosignedTreeHead, parseInclusionProof, parseSignedTreeHead } from '../../src/formats/messages.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { toHex } from '../../src/hex.js';
import { verifyInclusion } from '../../src/tree/verify.js';
import { requireRoot } from '../helpers/components.js';
import { makeKey, preparePrimary, tempDir, writePrimaryConfig } from '../helpers/log-fixture.js';
import { http, spawnCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { addLeaf, makeLeaf, submitUntilPublished, type TestLeaf } from '../helpers/submitter.js';

/** Writes `path` until the file system refuses (ENOSPC); returns the bytes written. */
function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const chunk of [1 << 20, 4096, 512, 1]) {
      const buf = Buffer.alloc(chunk, 0x5a);
      for (;;) {
        try {
          written += writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** Submits until every leaf is answered 200; 202 and 503 (with Retry-After) mean "again", anything else fails. */
async function submitUntil200(url: string, leaves: readonly TestLeaf[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let remaining = [...leaves];
  while (remaining.length > 0) {
    if (Date.now() > deadline) throw new Error(`${remaining.length} leaves still not answered 200 after ${timeoutMs} ms`);
    const statuses = await Promise.all(remaining.map((l) => addLeaf(url, l)));
    const bad = statuses.find((s) => s !== 200 && s !== 202 && s !== 503);
    if (bad !== undefined) throw new Error(`add-leaf answered ${bad}`);
    remaining = remaining.filter((_l, i) => statuses[i] !== 200);
    if (remaining.length > 0) await new Promise((r) => setTimeout(r, 200));
  }
}

async function head(url: string): Promise<CosignedTreeHead> {
  const res = await http(`${url}/get-tree-head`);
  assert.equal(res.status, 200, res.body);
  return parseCosignedTreeHead(res.body);
}

test('disk full: add-leaf answers 503, the head is served, nothing answered 200 is lost, and the node resumes', async (t) => {
  if (!requireRoot(t, 'mounting a tmpfs')) return;
  const dir = tempDir();
  const disk = join(dir.path, 'disk');
  mkdirSync(disk);
  let primary: NodeProcess | undefined;
  let mounted = false;
  // Registered before the mount, so that a failed mount still removes the temp dir.
  t.after(async () => {
    await primary?.kill9();
    if (mounted) execFileSync('umount', [disk]); // even when the test failed
    dir.remove();
  });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk]);
  mounted = true;

  const logFile = join(disk, 'primary.log');
  const setup = await preparePrimary(dir.path, { interval: '200ms' });
  // Database, sth file (and its startup file) and log file on the small disk.
  Object.assign(setup, { dbFile: join(disk, 'primary.db'), sthFile: join(disk, 'primary.sth') });
  writePrimaryConfig(setup, { interval: '200ms', top: { 'log-file': logFile, 'log-level': 'debug' } });
  rmSync(join(dir.path, 'primary.sth.startup'));
  execFileSync('sh', ['-c', `echo startup=empty > ${setup.sthFile}.startup`]);
  const start = async (): Promise<NodeProcess> => {
    const p = spawnCli(['--role', 'primary', '--config', setup.config], { name: 'primary on tmpfs' });
    const started = readFileSync(logFile, { flag: 'a+' }).length;
    await waitUntil('the primary to listen', () => (readFileSync(logFile, 'utf8').slice(started).includes('public API on http') ? true : undefined));
    return p;
  };
  primary = await start();
  const url = setup.publicUrl;
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const answered200 = new Set<string>();
  const track = async (leaf: TestLeaf): Promise<number> => {
    const status = await addLeaf(url, leaf);
    if (status === 200) answered200.add(toHex(leaf.leafHash));
    return status;
  };

  // Before: leaves reach 200.
  const before = Array.from({ length: 20 }, () => makeLeaf(submitter));
  await submitUntilPublished(url, before, 20_000);
  for (const l of before) answered200.add(toHex(l.leafHash));
  const headBefore = await head(url);

  // Fill the disk. SQLite may still commit a few batches into WAL space it
  // already had; new leaves keep coming until appends fail.
  const filled = fillDisk(join(disk, 'filler'));
  assert.ok(filled > 0);
  const statuses = new Map<number, number>();
  let unavailable: string | undefined;
  const during: TestLeaf[] = [];
  await waitUntil('add-leaf to answer 503: disk full', async () => {
    const leaves = Array.from({ length: 20 }, () => makeLeaf(submitter));
    during.push(...leaves);
    for (const leaf of leaves) {
      const res = await http(`${url}/add-leaf`, { method: 'POST', body: leaf.body });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 200) answered200.add(toHex(leaf.leafHash));
      if (res.status === 503) {
        unavailable = res.body;
        assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
      }
    }
    return unavailable;
  }, 60_000, 100);
  assert.match(unavailable as string, /disk is full.*retry later/);
  // While full: more submissions, all 503 or 202 (already pending), never 500; head still served.
  for (const leaf of Array.from({ length: 30 }, () => makeLeaf(submitter))) {
    const status = await track(leaf);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    assert.ok(status === 503, `a new leaf on a full disk: ${status}`);
  }
  for (const leaf of during) statuses.set(await track(leaf), 0);
  assert.equal(statuses.has(500), false, `never 500: ${JSON.stringify([...statuses])}`);
  const headWhileFull = await head(url);
  assert.ok(headWhileFull.size >= headBefore.size);
  // Leaves sequenced into WAL space just before appends failed make the
  // rotation try to write the sth file on the full disk: whatever it did, the
  // head served is the one on disk (never published without being durable).
  const onDisk = (): number => parseSignedTreeHead(readFileSync(setup.sthFile, 'utf8')).size;
  assert.ok(onDisk() >= headWhileFull.size, 'the served head is durable in the sth file');
  assert.ok(primary.running, 'the primary did not crash');
  // The log file is on the same full disk: its lines went to stderr instead.
  await waitUntil('a log line to fall back to stderr', () => (/cannot write to log file .*ENOSPC/.test(primary?.output ?? '') ? true : undefined), 30_000);
  assert.ok(primary.running);

  // Free the space: the node resumes by itself, and every leaf reaches 200.
  rmSync(join(disk, 'filler'));
  const after = Array.from({ length: 20 }, () => makeLeaf(submitter));
  await submitUntil200(url, [...during, ...after], 60_000);
  for (const l of [...during, ...after]) answered200.add(toHex(l.leafHash));
  assert.ok(primary.running);
  assert.ok(existsSync(logFile));
  await waitUntil('the log file to be written again', () => (/writing log lines to .* again/.test(primary?.output ?? '') ? true : undefined), 30_000);

  // kill -9 and restart: every leaf answered 200 is in the tree.
  await primary.kill9();
  primary = await start();
  const final = await head(url);
  assert.ok(onDisk() >= final.size);
  for (const hex of answered200) {
    const res = await http(`${url}/get-inclusion-proof/${final.size}/${hex}`);
    assert.equal(res.status, 200, `leaf ${hex} answered 200 is in the tree after restart: ${res.body}`);
    const proof = parseInclusionProof(res.body);
    assert.ok(verifyInclusion(Uint8Array.from(Buffer.from(hex, 'hex')) as never, proof.leafIndex, final.size, proof.path, final.rootHash));
  }
  assert.ok(answered200.size >= before.length + during.length + after.length);
});
