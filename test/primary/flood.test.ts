// Admission control under a real flood: a primary child process, one
// abusive client on 127.0.0.3 sending add-leaf requests with invalid
// signatures as fast as the server answers (many keep-alive connections,
// plus connections that pipeline bursts of requests) for 30 s, while a
// legitimate submitter on 127.0.0.2 sends new leaves and repeats each until
// 200, as sigsum-submit does. Every legitimate leaf must be published within
// a few intervals, every request of either client must be answered (503 is
// fine for the abuser), and the primary's peak RSS must stay far below 1 GiB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { toHex } from '../../src/hex.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { makeLeaf, type TestLeaf } from '../helpers/submitter.js';
import { parseAnswer } from '../helpers/raw-http.js';
import { runAlone } from '../helpers/exclusive.js';

const FLOOD_MS = 30_000;
const INTERVAL_MS = 2_000;
/** "Within a few intervals": from a leaf's first submission to its 200. */
const PUBLISH_WITHIN_MS = 6 * INTERVAL_MS;
/** The bound doc/design.md derives (Admission control, "Memory under a flood"). */
const RSS_BOUND_MIB = 400;
const ABUSIVE_CONNECTIONS = 160;
const PIPELINING_CONNECTIONS = 4;
const PIPELINED_BURST = 64;

function post(agent: Agent, port: number, body: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/add-leaf', agent, headers: { 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** An add-leaf body whose signature does not verify (a real key, a random signature): each costs a real check. */
function invalidBody(publicKeyHex: string): string {
  return `message=${randomBytes(32).toString('hex')}\nsignature=${randomBytes(64).toString('hex')}\npublic_key=${publicKeyHex}\n`;
}

function vmHwmMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error('no VmHWM in /proc/<pid>/status');
  return Number(m[1]) / 1024;
}

test('a 30 s flood of invalid add-leafs from one address starves no one, is answered throughout, and stays bounded in memory', { timeout: 420_000 }, async (t) => {
  const dir = tempDir();
  await runAlone(t); // saturates both cores: never beside the monitor-based tests
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path, { interval: `${INTERVAL_MS}ms` });
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const pid = primary.proc.pid as number;
  const port = setup.publicPort;
  const abuserKey = toHex(makeKey(join(dir.path, 'abuser.key')).publicKey);
  const submitter = makeKey(join(dir.path, 'submitter.key'));

  const abuse = { sent: 0, statuses: new Map<number, number>(), errors: [] as string[] };
  const count = (status: number): void => {
    abuse.statuses.set(status, (abuse.statuses.get(status) ?? 0) + 1);
  };
  let flooding = true;
  const abuserAgent = new Agent({ keepAlive: true, maxSockets: ABUSIVE_CONNECTIONS, localAddress: '127.0.0.3' });
  t.after(() => abuserAgent.destroy());

  // Keep-alive connections, one request in flight on each, as fast as answered.
  const loops = Array.from({ length: ABUSIVE_CONNECTIONS }, async () => {
    while (flooding) {
      abuse.sent++;
      try {
        count(await post(abuserAgent, port, invalidBody(abuserKey), 30_000));
      } catch (err) {
        abuse.errors.push((err as Error).message);
        return;
      }
    }
  });

  // Connections that pipeline bursts: send PIPELINED_BURST requests at once, read as many answers.
  const pipelines = Array.from(
    { length: PIPELINING_CONNECTIONS },
    () =>
      new Promise<void>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3' });
        let data = Buffer.alloc(0);
        let owed = 0;
        const burst = (): void => {
          if (!flooding) {
            socket.end();
            resolve();
            return;
          }
          let bytes = '';
          for (let i = 0; i < PIPELINED_BURST; i++) {
            const body = invalidBody(abuserKey);
            bytes += `POST /add-leaf HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
          }
          owed += PIPELINED_BURST;
          abuse.sent += PIPELINED_BURST;
          socket.write(bytes);
        };
        socket.on('connect', burst);
        socket.on('data', (d: Buffer) => {
          data = Buffer.concat([data, d]);
          for (;;) {
            const a = parseAnswer(data);
            if (a === undefined) break;
            data = data.subarray(Buffer.byteLength(a.raw, 'latin1'));
            count(a.status);
            if (--owed === 0) burst();
          }
        });
        socket.on('error', (err) => abuse.errors.push(`pipelining connection: ${err.message}`));
        socket.on('close', () => {
          if (owed > 0) abuse.errors.push(`pipelining connection closed with ${owed} requests unanswered`);
          resolve();
        });
      }),
  );

  // The legitimate submitter: a new leaf every second; each repeated every 500 ms until 200.
  const legitAgent = new Agent({ keepAlive: true, maxSockets: 8, localAddress: '127.0.0.2' });
  t.after(() => legitAgent.destroy());
  const legit: Array<{ leaf: TestLeaf; first: number; publishedAfterMs?: number; statuses: number[] }> = [];
  const submitOne = async (entry: (typeof legit)[number]): Promise<void> => {
    for (;;) {
      const status = await post(legitAgent, port, entry.leaf.body, 30_000);
      entry.statuses.push(status);
      if (status === 200) {
        entry.publishedAfterMs = Date.now() - entry.first;
        return;
      }
      if (Date.now() - entry.first > PUBLISH_WITHIN_MS + 30_000) return; // reported below
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const submissions: Array<Promise<void>> = [];
  const started = Date.now();
  while (Date.now() - started < FLOOD_MS) {
    const entry = { leaf: makeLeaf(submitter), first: Date.now(), statuses: [] as number[] };
    legit.push(entry);
    submissions.push(submitOne(entry));
    await new Promise((r) => setTimeout(r, 1000));
  }
  flooding = false;
  await Promise.all([...loops, ...pipelines]);
  await Promise.all(submissions);
  const peakMiB = vmHwmMiB(pid);

  const summary = `abuser: ${abuse.sent} sent, answers ${JSON.stringify(Object.fromEntries(abuse.statuses))}; primary VmHWM ${peakMiB.toFixed(0)} MiB; legit: ${legit
    .map((e) => e.publishedAfterMs ?? 'never')
    .join(' ')} ms`;
  t.diagnostic(summary);
  // Every request answered.
  assert.deepEqual(abuse.errors.slice(0, 5), [], summary);
  const answered = [...abuse.statuses.values()].reduce((a, b) => a + b, 0);
  assert.equal(answered, abuse.sent, `every abusive request was answered: ${summary}`);
  assert.deepEqual([...abuse.statuses.keys()].filter((s) => s !== 403 && s !== 503), [], `only 403 and 503 for the abuser: ${summary}`);
  assert.ok((abuse.statuses.get(503) ?? 0) > 0, `the bounds engaged (some 503s): ${summary}`);
  assert.ok((abuse.statuses.get(403) ?? 0) > 0, `the abuser's requests were verified up to its share (some 403s): ${summary}`);
  // Every legitimate leaf published within a few intervals, never refused.
  assert.ok(legit.length >= 20, summary);
  for (const e of legit) {
    assert.ok(
      e.statuses.every((s) => s === 200 || s === 202),
      `legit leaf answered ${e.statuses.join(' ')}: ${summary}`,
    );
    assert.ok(e.publishedAfterMs !== undefined && e.publishedAfterMs <= PUBLISH_WITHIN_MS, `legit leaf published after ${e.publishedAfterMs} ms: ${summary}`);
  }
  assert.ok(peakMiB < RSS_BOUND_MIB, `primary peak RSS ${peakMiB.toFixed(0)} MiB < ${RSS_BOUND_MIB} MiB: ${summary}`);
});
