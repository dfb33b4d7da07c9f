// The backup's rate limit ([backup] max-rate, backup --max-rate): the pacer's
// arithmetic; a CLI backup at a given rate takes at least its bytes / rate
// (a lower bound only: never an upper timing bound); the paced copy runs in a
// worker thread, so the caller's event loop keeps turning and an abort ends a
// pause at once; and a running node answers HTTP promptly while its own
// periodic backup is paced slowly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BackupAborted, createBackup, sha256File } from '../../src/backup/backup.js';
import { parseManifest } from '../../src/backup/manifest.js';
import { mibPerSecond, Pacer, sleepSync } from '../../src/backup/pace.js';
import { LIFECYCLE_KEY } from '../../src/lifecycle.js';
import { TreeStore } from '../../src/tree/store.js';
import { http, runCli, waitUntil, type NodeProcess } from '../helpers/node-process.js';
import { makeKey, startNodeProcess, tempDir, writeToml } from '../helpers/log-fixture.js';
import { startSeededPrimary } from './fixture.js';

/** A replica's database of `count` random 128-byte leaves (no node needed to back it up). */
function replicaDb(dbFile: string, count: number): void {
  const store = TreeStore.open(dbFile);
  try {
    for (let i = 0; i < count; i += 5_000) {
      const n = Math.min(5_000, count - i);
      const bytes = randomBytes(128 * n);
      store.appendLeaves(Array.from({ length: n }, (_v, j) => new Uint8Array(bytes.subarray(128 * j, 128 * (j + 1)))));
    }
    store.setMeta(LIFECYCLE_KEY, 'replica');
  } finally {
    store.close();
  }
}

test('pacer: n bytes take at least n / rate from its creation however split; no credit is saved up beyond one charge; 0 is no limit', () => {
  let now = 1_000;
  const clock = (): number => now;
  const p = new Pacer(1_000_000, clock); // 1 MB/s: 1 ms per 1,000 bytes
  assert.equal(p.charge(100_000), 100, 'work that took no time waits its whole share');
  now += 100; // waited
  now += 30; // the next 100 kB took 30 ms of work
  assert.equal(p.charge(100_000), 70, 'the work\'s own time counts toward its share');
  now += 70;
  now += 5_000; // a long stall elsewhere
  assert.equal(p.charge(100_000), 0, 'a step that took longer than its share waits nothing');
  assert.equal(p.charge(100_000), 100, 'but the stall is not made up for by a burst: the next charge waits again');

  // Total time ≥ total bytes / rate, for any split of the work (the lower bound the tests below rely on).
  for (const chunk of [1, 4096, 262_144, 3_000_000]) {
    let t = 0;
    const q = new Pacer(mibPerSecond(2), () => t);
    let left = 10_000_000;
    while (left > 0) {
      const n = Math.min(chunk, left);
      t += 0.01; // the work itself
      t += q.charge(n);
      left -= n;
    }
    assert.ok(t >= (10_000_000 / mibPerSecond(2)) * 1000 - 1e-6, `chunk ${chunk}: ${t} ms`);
  }
  assert.equal(new Pacer(0, clock).charge(1e12), 0, 'no limit');
  assert.throws(() => new Pacer(-1), RangeError);
  assert.throws(() => new Pacer(Number.NaN), RangeError);
});

test('sleepSync: waits, or returns false at once when woken', () => {
  const wake = new Int32Array(new SharedArrayBuffer(4));
  const t0 = performance.now();
  assert.equal(sleepSync(30, wake), true);
  assert.ok(performance.now() - t0 >= 29, 'slept');
  Atomics.store(wake, 0, 1);
  assert.equal(sleepSync(60_000, wake), false, 'woken: no sleep at all');
});

test('backup --max-rate: a backup of a known size takes at least 2 × size / rate (copy and hashing each paced); 0 lifts the limit', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const dbFile = join(dir.path, 'node.db');
  replicaDb(dbFile, 15_000);
  const keyFile = join(dir.path, 'node.key');
  makeKey(keyFile);
  const config = join(dir.path, 'node.toml');
  writeToml(config, { 'key-file': keyFile, 'db-file': dbFile });

  const out = join(dir.path, 'paced');
  const t0 = performance.now();
  const r = await runCli(['backup', '--config', config, '--out', out, '--max-rate', '1'], 120_000);
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(r.code, 0, r.output);
  const bytes = statSync(join(out, 'log.db')).size;
  assert.ok(bytes > 2 * 1024 * 1024, `a database of a few MiB (${bytes} bytes)`);
  const floor = (2 * bytes) / mibPerSecond(1);
  assert.ok(seconds >= floor, `${bytes} bytes at 1 MiB/s, copied and hashed: ${seconds.toFixed(2)} s, at least ${floor.toFixed(2)} s`);
  // Paced or not, the backup is the same: the hash in the manifest is the file's.
  const m = parseManifest(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.equal(m.tree.size, 15_000);
  const db = m.files.find((f) => f.role === 'database');
  assert.ok(db !== undefined);
  assert.equal(db.bytes, bytes);
  assert.equal(await sha256File(join(out, 'log.db')), db.sha256);

  // The config's [backup] max-rate is the CLI's default; --max-rate 0 overrides it.
  appendFileSync(config, '\n[backup]\nmax-rate = 1\n');
  const fast = join(dir.path, 'unpaced');
  const u = await runCli(['backup', '--config', config, '--out', fast, '--max-rate', '0'], 120_000);
  assert.equal(u.code, 0, u.output);
  const um = parseManifest(readFileSync(join(fast, 'manifest.json'), 'utf8'));
  assert.equal(um.tree.root, m.tree.root);
  assert.equal(um.files.find((f) => f.role === 'database')?.sha256, db.sha256, 'the same snapshot of an unchanged database: the same bytes');
  const fromConfig = join(dir.path, 'from-config');
  const t1 = performance.now();
  const c = await runCli(['backup', '--config', config, '--out', fromConfig], 120_000);
  assert.equal(c.code, 0, c.output);
  assert.ok((performance.now() - t1) / 1000 >= floor, 'paced at the config\'s 1 MiB/s');
});

test('backup: the paced copy runs in a worker: the caller\'s event loop keeps turning through long pauses, and an abort ends a pause at once', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const dbFile = join(dir.path, 'node.db');
  replicaDb(dbFile, 15_000);
  const out = join(dir.path, 'out');
  // 256 pages (1 MiB) per step at 256 KiB/s: each pause is about 4 s. On the
  // calling thread, that would stop every timer for 4 s at a time.
  const abort = new AbortController();
  let progress = 0;
  const backup = createBackup({ dbFile, outDir: out, pagesPerStep: 256, bytesPerSecond: 256 * 1024, signal: abort.signal, onProgress: (done) => (progress = done) });
  const outcome = backup.then(() => 'finished', (err: unknown) => err);
  let last = performance.now();
  let maxGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 20);
  try {
    await waitUntil('the copy has begun', () => (progress > 0 ? true : undefined), 60_000, 20);
    await new Promise((r) => setTimeout(r, 6_000)); // through at least one whole pause
  } finally {
    clearInterval(ticker);
  }
  assert.ok(maxGap < 1_000, `the event loop kept turning during the paced copy (longest gap between 20 ms ticks: ${maxGap.toFixed(0)} ms)`);
  const aborted = performance.now();
  abort.abort();
  const err = await outcome;
  assert.ok(err instanceof BackupAborted, `abandoned: ${String(err)}`);
  // The remaining copy and hash would take ≥ 20 s at this rate; woken, the worker stops at once.
  assert.ok(performance.now() - aborted < 10_000, 'the abort woke the paused worker');
  assert.ok(!existsSync(join(out, 'manifest.json')), 'no manifest: never a backup');
});

test('periodic backup, paced slowly in the running node: HTTP requests are answered promptly throughout, and the backup honours the rate', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const source = await startSeededPrimary(dir.path, 15_000);
  await source.proc.stop();
  const backups = join(dir.path, 'backups');
  appendFileSync(source.setup.config, `\n[backup]\ndir = ${JSON.stringify(backups)}\ninterval = "1h"\nkeep = 1\nmax-rate = 1\n`);
  const proc: NodeProcess = await startNodeProcess('primary', source.setup);
  t.after(() => proc.kill9());
  await proc.waitForOutput(/periodic backups into .* every 3600000 ms, keeping 1, copy and hashing at most 1 MiB\/s/);
  const partial = (): boolean => existsSync(backups) && readdirSync(backups).some((n) => n.startsWith('.partial-'));
  await waitUntil('the periodic backup under way', () => (partial() ? true : undefined), 60_000, 20);

  // While it runs (seconds at 1 MiB/s), the node answers every request; generous bound.
  let slowest = 0;
  let answered = 0;
  const until = Date.now() + 3_000;
  while (Date.now() < until) {
    const t0 = performance.now();
    const res = await http(`${source.setup.publicUrl}/get-tree-head`, {}, 10_000);
    assert.equal(res.status, 200, res.body);
    slowest = Math.max(slowest, performance.now() - t0);
    answered++;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(partial(), 'the backup was still running when the probing ended');
  assert.ok(answered >= 10, `answered ${answered} requests`);
  assert.ok(slowest < 2_000, `slowest get-tree-head during the backup: ${slowest.toFixed(0)} ms`);

  const m = await proc.waitForOutput(/backup: (\S+) \(tree size \d+, (\d+) ms\)/, 120_000);
  const bytes = statSync(join(m[1]!, 'log.db')).size;
  const floor = (2 * bytes * 1000) / mibPerSecond(1);
  assert.ok(Number(m[2]) >= floor, `periodic backup of ${bytes} bytes at 1 MiB/s took ${m[2]} ms, at least ${floor.toFixed(0)} ms`);
  assert.equal(await proc.stop(), 0);
});
