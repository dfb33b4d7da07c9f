// The HTTP layer over real sockets on 127.0.0.1: which requests the direct
// (node:http) path takes and which it leaves to hono, how an oversized body
// is cut off on the direct path, requests the hono adapter refuses, and that
// client text cannot forge log lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { buildApp, directHandler, type Route } from '../../src/http/router.js';
import { readBodyText } from '../../src/http/body.js';
import { startServer, type RunningServer } from '../../src/http/serve.js';
import { textReply } from '../../src/http/respond.js';
import { capturingLogger } from '../witness/fixtures.js';
import { rawRequest } from '../helpers/raw-http.js';

const LIMIT = 4096;

/** The same endpoint twice, answering which path served it. */
function routes(servedBy: string): Route[] {
  return [
    {
      method: 'POST',
      name: 'add-leaf',
      args: 0,
      direct: true,
      handle: async (req) => textReply(202, `${servedBy} ${(await readBodyText(req, LIMIT)).length}\n`),
    },
    { method: 'GET', name: 'get-tree-head', args: 0, handle: () => textReply(200, `${servedBy}\n`) },
  ];
}

async function start(t: { after(fn: () => Promise<void>): void }, prefix = ''): Promise<{ server: RunningServer; lines: string[] }> {
  const log = capturingLogger();
  const server = await startServer(buildApp(routes('hono'), prefix, log), '127.0.0.1:0', directHandler(routes('direct'), prefix, log));
  t.after(() => server.close());
  return { server, lines: log.lines };
}

test('only POST to exactly <prefix>/add-leaf with a usable Host takes the direct path', async (t) => {
  const { server } = await start(t, '/log');
  // [method, target, headers, status, answer starts with]: the handlers say
  // which path served them; near misses are the router's errors, from hono.
  const cases: Array<[string, string, Record<string, string>, number, string]> = [
    ['POST', '/log/add-leaf', {}, 202, 'direct 3'],
    ['POST', '/log/add-leaf?x=1', {}, 202, 'hono 3'],
    ['POST', '/log/add-leaf', { host: 'EXAMPLE.org' }, 202, 'direct 3'],
    ['POST', '/log/add-leaf', { host: '[::1]:6965' }, 202, 'direct 3'],
    ['POST', '/log/add-leaf/', {}, 400, 'add-leaf takes no path arguments'],
    ['POST', '/add-leaf', {}, 404, 'unknown endpoint'],
    ['GET', '/log/get-tree-head', {}, 200, 'hono'],
    ['GET', '/log/add-leaf', {}, 405, 'method not allowed; use POST'],
  ];
  for (const [method, path, headers, status, want] of cases) {
    const res = await rawRequest(server.port, method, path, method === 'POST' ? 'a=b' : undefined, headers);
    const what = `${method} ${path} ${JSON.stringify(headers)}: ${res.status} ${res.body}`;
    assert.equal(res.status, status, what);
    assert.ok(res.body.startsWith(want), what);
  }
  // A GET of a POST endpoint is hono's 405, never the handler.
  const get = await rawRequest(server.port, 'GET', '/log/add-leaf');
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, 'POST');
});

test('a Host header the hono adapter refuses is refused on both paths with a one-line 400', async (t) => {
  const { server } = await start(t);
  // (hono's rule refuses an upper-case name with a port: the hostname it parses is lower-case.)
  for (const host of ['a b', 'exa mple.org', '127.1', 'example.org:99999', 'EXAMPLE.org:8080']) {
    for (const path of ['/add-leaf', '/add-leaf?x']) {
      const res = await rawRequest(server.port, 'POST', path, 'a=b', { host });
      assert.equal(res.status, 400, `Host ${host}, ${path}: ${res.body}`);
      assert.match(res.body, /^bad request: .*\n$/, `Host ${host}, ${path}`);
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    }
  }
});

/** Sends a request head, then keeps sending body bytes; resolves with what came back and how long the socket stayed open. */
function sendForever(port: number, head: string, chunk: Buffer, everyMs: number): Promise<{ answer: string; openMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for 10 s; got ${JSON.stringify(answer)}`));
    }, 10_000);
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(chunk, () => undefined);
      }, everyMs);
    });
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined); // a reset after the answer is expected
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ answer, openMs: Date.now() - started });
    });
  });
}

test('an oversized body gets 413 and the connection is closed soon after, however the body comes, on both paths', async (t) => {
  const { server } = await start(t);
  const runs: Array<[string, string, Buffer, number]> = [];
  for (const target of ['/add-leaf', '/add-leaf?via=hono']) {
    const head = (framing: string): string => `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${framing}\r\n\r\n`;
    runs.push(
      [`${target}: declared 100 GB, sent fast`, head('Content-Length: 100000000000'), Buffer.alloc(64 * 1024, 0x61), 1],
      [`${target}: declared length, trickled`, head('Content-Length: 100000'), Buffer.alloc(5000, 0x61), 100],
      [`${target}: chunked, trickled`, head('Transfer-Encoding: chunked'), Buffer.from(`1388\r\n${'a'.repeat(5000)}\r\n`), 100],
    );
  }
  for (const [what, request, chunk, everyMs] of runs) {
    const { answer, openMs } = await sendForever(server.port, request, chunk, everyMs);
    assert.match(answer, /^HTTP\/1\.1 413 /, `${what}: ${answer.slice(0, 80)}`);
    assert.match(answer, /larger than the limit of 4096 bytes/, what);
    assert.ok(openMs < 5_000, `${what}: connection open for ${openMs} ms after the 413`);
  }
});

test('client text in a path is escaped in the log: no forged lines', async (t) => {
  const { server, lines } = await start(t);
  const res = await rawRequest(server.port, 'GET', '/x%0D%0A2026-01-01T00:00:00.000Z%20ERROR%20forged');
  assert.equal(res.status, 404);
  const logged = lines.find((l) => l.includes('forged'));
  assert.ok(logged !== undefined, lines.join('\n'));
  assert.ok(!/[\r\n]/.test(logged), `a raw line break reached the log: ${JSON.stringify(logged)}`);
  assert.match(logged, /\\r\\n2026/);
});
