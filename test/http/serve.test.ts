// The limits and refusals of every listener (src/http/serve.ts), over real
// sockets on 127.0.0.1: requests node:http refuses before routing get a
// one-line text/plain answer on both the direct and the hono path; slow
// clients are cut off; connections and pipelined requests are bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { buildApp, directHandler, type Route } from '../../src/http/router.js';
import { readBodyText } from '../../src/http/body.js';
import { startServer, type HttpLimits, type RunningServer } from '../../src/http/serve.js';
import { textReply } from '../../src/http/respond.js';
import { createLogger } from '../../src/log.js';
import { waitUntil } from '../helpers/node-process.js';
import { parseAnswer, rawExchange } from '../helpers/raw-http.js';
import { rawBadRequests } from './raw-cases.js';

interface Held {
  calls: number;
  release(): void;
}

function routes(held: Held): Route[] {
  let waiting: Array<() => void> = [];
  held.release = () => {
    const w = waiting;
    waiting = [];
    w.forEach((f) => f());
  };
  return [
    { method: 'POST', name: 'add-leaf', args: 0, direct: true, handle: async (req) => textReply(202, `${(await readBodyText(req, 4096)).length}\n`) },
    { method: 'GET', name: 'get-tree-head', args: 0, handle: () => textReply(200, 'head\n') },
    {
      method: 'GET',
      name: 'slow',
      args: 0,
      handle: async () => {
        held.calls++;
        await new Promise<void>((r) => waiting.push(r));
        return textReply(200, 'slow\n');
      },
    },
  ];
}

async function start(t: { after(fn: () => Promise<void>): void }, limits?: Partial<HttpLimits>): Promise<{ server: RunningServer; held: Held }> {
  const log = createLogger('error');
  const held: Held = { calls: 0, release: () => undefined };
  const table = routes(held);
  const full: HttpLimits = { headersTimeoutMs: 5000, requestTimeoutMs: 10_000, maxConnections: 2048, maxPipelinedRequests: 16, ...limits };
  const server = await startServer(buildApp(table, '', log), '127.0.0.1:0', directHandler(table, '', log), full);
  t.after(async () => {
    held.release();
    await server.close();
  });
  return { server, held };
}

test('requests node:http refuses before routing get a one-line text/plain answer, on the direct and the hono path', async (t) => {
  const { server } = await start(t);
  for (const path of ['/add-leaf', '/add-leaf?via=hono', '/get-tree-head']) {
    for (const c of rawBadRequests(path)) {
      const a = await rawExchange(server.port, c.bytes);
      const what = `${c.name} ${path}: ${JSON.stringify(a.raw.slice(0, 300))}`;
      assert.equal(a.status, c.status, what);
      assert.match(a.body.trimEnd(), c.message, what);
      assert.ok(a.body.endsWith('\n') && !a.body.trimEnd().includes('\n'), `${what}: one line`);
      assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8', what);
    }
  }
  // The listener still serves.
  const ok = await rawExchange(server.port, 'GET /get-tree-head HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  assert.equal(ok.status, 200);
  // HTTP/1.0 needs no Host.
  const old = await rawExchange(server.port, 'GET /get-tree-head HTTP/1.0\r\n\r\n');
  assert.equal(old.status, 200);
});

/** Opens a connection, sends `head`, then one byte of `trickle` every `everyMs`; resolves with what came back and whether the server closed. */
function trickle(port: number, head: string, trickleText: string, everyMs: number, giveUpMs: number): Promise<{ answer: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      resolve({ answer, closedByServer: false });
    }, giveUpMs);
    socket.on('connect', () => {
      if (head !== '') socket.write(head);
      if (trickleText === '') return;
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(trickleText[i++ % trickleText.length] as string, () => undefined);
      }, everyMs);
    });
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ answer, closedByServer: true });
    });
  });
}

test('a slowloris client is cut off: trickled head, trickled body, and a silent connection', async (t) => {
  const { server } = await start(t, { headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
  // Node's own defaults (60 s head, 300 s request) would keep each open far longer than the 15 s given up after.
  const giveUp = 15_000;
  const head = await trickle(server.port, 'GET /get-tree-head HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: aaaaaaaaaaaa\r\n', 100, giveUp);
  assert.ok(head.closedByServer, 'trickled head: closed by the server');
  const answer = parseAnswer(Buffer.from(head.answer, 'latin1'));
  assert.equal(answer?.status, 408, head.answer);
  assert.match(answer!.body, /^request timeout: the request head must arrive within 1000 ms/);
  assert.equal(answer!.headers['content-type'], 'text/plain; charset=utf-8');

  for (const target of ['/add-leaf', '/add-leaf?via=hono']) {
    const body = await trickle(server.port, `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n`, 'a', 100, giveUp);
    assert.ok(body.closedByServer, `trickled body to ${target}: closed by the server`);
    assert.doesNotMatch(body.answer, /^HTTP\/1\.1 202/, 'the handler never got the whole body');
  }

  const silent = await trickle(server.port, '', '', 100, giveUp);
  assert.ok(silent.closedByServer, 'a connection that sends nothing is closed');
});

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('connections beyond max-connections are closed at once; a freed slot is usable again', async (t) => {
  const { server } = await start(t, { maxConnections: 3 });
  const held = await Promise.all([0, 1, 2].map(() => openSocket(server.port)));
  t.after(() => held.forEach((s) => s.destroy()));
  // The held ones are accepted and served.
  held[0]!.write('GET /get-tree-head HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  // A fourth is dropped without an answer (rawExchange rejects: no answer before close).
  await assert.rejects(rawExchange(server.port, 'GET /get-tree-head HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), /no complete HTTP answer/);
  held.pop()!.destroy();
  // Once the server has seen the close, a new connection is served.
  await waitUntil(
    'a connection served again after one closed',
    () =>
      rawExchange(server.port, 'GET /get-tree-head HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n').then(
        (a) => (a.status === 200 ? true : undefined),
        () => undefined,
      ),
    30_000,
    50,
  );
});

test('pipelined requests beyond max-pipelined-requests are answered 503 in order, without running the handler', async (t) => {
  const { server, held } = await start(t, { maxPipelinedRequests: 2 });
  const socket = await openSocket(server.port);
  t.after(() => socket.destroy());
  let data = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
  socket.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(5));
  // Two handlers run; the other three are refused (their answers wait, in order, behind the first two).
  await waitUntil('two handlers running', () => (held.calls >= 2 ? true : undefined), 30_000, 20);
  await new Promise((r) => setTimeout(r, 200)); // a third handler, were it let through, would start now
  assert.equal(held.calls, 2);
  held.release();
  const answers: Array<{ status: number; body: string; retryAfter?: string }> = [];
  await waitUntil(
    'five answers',
    () => {
      for (;;) {
        const a = parseAnswer(data);
        if (a === undefined) break;
        answers.push({ status: a.status, body: a.body, ...(a.headers['retry-after'] === undefined ? {} : { retryAfter: a.headers['retry-after'] }) });
        data = data.subarray(Buffer.byteLength(a.raw, 'latin1'));
      }
      return answers.length >= 5 ? true : undefined;
    },
    30_000,
    20,
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 503, 503, 503],
  );
  assert.match(answers[2]!.body, /^too many requests in progress on this connection \(at most 2\)/);
  assert.equal(answers[2]!.retryAfter, '1');
  assert.equal(held.calls, 2, 'the refused requests never reached the handler');
  // The connection stays usable.
  socket.write('GET /get-tree-head HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const after = await waitUntil('an answer on the same connection', () => parseAnswer(data), 30_000, 20);
  assert.equal(after.status, 200);
});
