// A real secondary catching up over a slow link logs its progress (leaves
// stored of the target, leaves/s, ETA) at most every few seconds, here in
// log-format=json with the numbers as fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { PROGRESS_EVERY_MS } from '../../src/replication/replicator.js';
import { preparePrimary, prepareSecondary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { freePort } from '../helpers/node-process.js';
import { randomLeaves, treeWith, waitForSize } from './fixture.js';

/** An HTTP proxy to `upstream` that holds every answer for `delayMs`: a slow link. */
async function slowLink(upstream: string, delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    void (async () => {
      try {
        await new Promise((r) => setTimeout(r, delayMs));
        const answer = await fetch(upstream + (req.url ?? '/'), { headers: { authorization: req.headers.authorization ?? '' } });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
        res.end(Buffer.from(await answer.arrayBuffer()));
      } catch {
        res.writeHead(502).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.closeAllConnections() ?? server.close(() => resolve())),
  };
}

test('secondary: a long catch-up logs leaves/s and ETA at most every few seconds', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const SIZE = 40_000;
  const primary = await preparePrimary(dir.path, { interval: '1s', primary: { 'max-range': 50 } });
  treeWith(primary.dbFile, randomLeaves(SIZE), 10_000).close(); // the primary's tree, built directly
  const primaryProc = await startNodeProcess('primary', primary);
  t.after(() => primaryProc.kill9());
  // 8 requests of 50 leaves per 100 ms: about 4,000 leaves/s, a catch-up of ~10 s.
  const link = await slowLink(primary.internalUrl, 100);
  t.after(() => link.close());

  const setup = await prepareSecondary(dir.path, { primaryUrl: link.url, interval: '100ms', top: { 'log-format': 'json' } });
  const secondary = await startNodeProcess('secondary', setup);
  t.after(() => secondary.kill9());
  await waitForSize(setup.internalUrl, SIZE, 90_000);
  assert.equal(await secondary.stop(), 0, secondary.output);

  const lines = secondary.output
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { time: string; level: string; node: string; msg: string; [k: string]: unknown });
  const progress = lines.filter((l) => l.msg.startsWith('catching up with'));
  assert.ok(progress.length >= 2, `progress lines during the catch-up:\n${secondary.output}`);
  for (const p of progress) {
    assert.equal(p.node, 'secondary');
    assert.equal(p.level, 'info');
    assert.match(p.msg, /^catching up with \S+: [\d,]+\/40,000 leaves \(\d+\.\d%\), [\d,]+ leaves\/s, ETA \d+(s|m\d\ds)$/);
    assert.equal(p.target, SIZE);
    assert.ok(typeof p.size === 'number' && p.size > 0 && p.size < SIZE, `size field: ${JSON.stringify(p)}`);
    assert.ok(typeof p.leaves_per_second === 'number' && p.leaves_per_second > 0);
    assert.equal(typeof p.eta_seconds, 'number');
  }
  const sizes = progress.map((p) => p.size as number);
  assert.deepEqual(sizes, [...sizes].sort((a, b) => a - b), 'sizes only grow');
  const times = progress.map((p) => Date.parse(p.time));
  for (let i = 1; i < times.length; i++) {
    assert.ok((times[i] as number) - (times[i - 1] as number) >= PROGRESS_EVERY_MS - 50, `lines at least ${PROGRESS_EVERY_MS} ms apart`);
  }
});
