import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress, etaSeconds, formatDuration, formatProgressBar, formatProgressLine, RateWindow } from '../../src/cli/progress.js';
import { versionInfo, versionString } from '../../src/version.js';

test('progress: plain line, bar, ETA and durations', () => {
  const s = { done: 450_000, total: 1_000_000, elapsedMs: 4000, ratePerSecond: 110_000 };
  assert.equal(formatProgressLine('fsck', 'leaves', s), 'fsck: 450,000/1,000,000 leaves (45.0%), 110,000 leaves/s, ETA 5s');
  assert.equal(formatProgressBar('fsck', 'leaves', s, 10), '[####......] fsck: 450,000/1,000,000 leaves (45.0%), 110,000 leaves/s, ETA 5s');
  assert.equal(formatProgressLine('import', 'leaves', { ...s, total: undefined }), 'import: 450,000 leaves, 110,000 leaves/s');
  assert.equal(etaSeconds({ ...s, ratePerSecond: 0 }), undefined);
  assert.deepEqual([0, 59, 61, 3600, 3725].map(formatDuration), ['0s', '59s', '1m01s', '1h00m', '1h02m']);
});

test('progress: the rate follows a sliding window', () => {
  const w = new RateWindow(1000);
  assert.equal(w.add(0, 0), 0);
  assert.equal(w.add(500, 500), 1000);
  assert.equal(w.add(1000, 1000), 1000);
  // After a stall the old fast samples leave the window.
  w.add(2000, 1000);
  assert.equal(w.add(3000, 1000), 0);
});

test('progress: lines at most every interval when not a terminal; a redrawn bar on one', () => {
  let t = 0;
  const out: string[] = [];
  const p = createProgress({ label: 'x', unit: 'leaves', total: 100, stream: { write: (s: string) => out.push(s) }, lineIntervalMs: 1000, now: () => t });
  for (let i = 1; i <= 30; i++) {
    t = i * 100;
    p.update(i);
  }
  p.finish();
  assert.equal(out.length, 4, out.join('')); // at 100 ms, 1100, 2100, then finish
  assert.ok(out.every((l) => l.endsWith('\n') && !l.includes('\r')));
  assert.match(out.at(-1) as string, /^x: 30\/100 leaves \(30\.0%\), 10 leaves\/s, ETA 7s\n$/);

  const tty: string[] = [];
  const bar = createProgress({ label: 'x', unit: 'leaves', total: 10, stream: { write: (s: string) => tty.push(s), isTTY: true }, now: () => t });
  bar.update(5);
  bar.finish();
  assert.ok(tty[0]?.startsWith('\r[') && tty.at(-1) === '\n');
});

test('version: package version, and the commit when run from a git checkout', () => {
  const info = versionInfo();
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  if (info.commit !== undefined) assert.match(info.commit, /^[0-9a-f]{40}$/);
  assert.equal(versionString({ version: '1.2.3', commit: undefined }), '1.2.3');
  assert.equal(versionString({ version: '1.2.3', commit: 'ab'.repeat(20) }), '1.2.3 (git abababababab)');
});
