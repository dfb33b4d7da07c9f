// Table-driven bad input against every public endpoint of a running primary:
// exact status, a message that says what is wrong, the server still healthy,
// and nothing written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { toHex } from '../../src/hex.js';
import { parseCosignedTreeHead, parseTreeHead } from '../../src/formats/messages.js';
import { http, waitUntil } from '../helpers/node-process.js';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { rawExchange, rawRequest } from '../helpers/raw-http.js';
import { rawBadRequests } from '../http/raw-cases.js';

interface Case {
  name: string;
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  message: RegExp;
}

test('public API: bad input gets a clear 4xx and changes nothing', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path, { interval: '200ms' });
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const published = [makeLeaf(submitter), makeLeaf(submitter), makeLeaf(submitter)];
  await submitUntilPublished(setup.publicUrl, published, 20_000);
  const unknownLeaf = makeLeaf(submitter);
  const good = makeLeaf(submitter);
  const [msg, sig, pub] = good.body.split('\n').map((l) => l.split('=')[1] as string);
  const hash = toHex(published[0]!.leafHash);
  const big = '9223372036854775808'; // 2^63
  const max = '9223372036854775807'; // 2^63-1

  const cases: Case[] = [
    // get-tree-head
    { name: 'tree head: POST', method: 'POST', path: '/get-tree-head', status: 405, message: /method not allowed/ },
    { name: 'tree head: argument', method: 'GET', path: '/get-tree-head/1', status: 400, message: /takes no path arguments/ },
    // get-inclusion-proof
    { name: 'inclusion: no args', method: 'GET', path: '/get-inclusion-proof', status: 400, message: /takes 2 path arguments/ },
    { name: 'inclusion: one arg', method: 'GET', path: '/get-inclusion-proof/3', status: 400, message: /takes 2 path arguments/ },
    { name: 'inclusion: non-numeric', method: 'GET', path: `/get-inclusion-proof/abc/${hash}`, status: 400, message: /tree size: "abc" is not a decimal/ },
    { name: 'inclusion: negative', method: 'GET', path: `/get-inclusion-proof/-3/${hash}`, status: 400, message: /not a decimal integer/ },
    { name: 'inclusion: leading zero', method: 'GET', path: `/get-inclusion-proof/03/${hash}`, status: 400, message: /leading zeros/ },
    { name: 'inclusion: > 2^63-1', method: 'GET', path: `/get-inclusion-proof/${big}/${hash}`, status: 400, message: /larger than 2\^63-1/ },
    { name: 'inclusion: 2^63-1', method: 'GET', path: `/get-inclusion-proof/${max}/${hash}`, status: 400, message: /^tree size 9223372036854775807 is beyond the tree head/ },
    { name: 'inclusion: 2^53', method: 'GET', path: `/get-inclusion-proof/9007199254740992/${hash}`, status: 400, message: /^tree size 9007199254740992 is beyond/ },
    { name: 'inclusion: size 1', method: 'GET', path: `/get-inclusion-proof/1/${hash}`, status: 400, message: /must be at least 2/ },
    { name: 'inclusion: beyond head', method: 'GET', path: `/get-inclusion-proof/4/${hash}`, status: 400, message: /beyond the published tree head \(size 3\)/ },
    { name: 'inclusion: odd hex', method: 'GET', path: `/get-inclusion-proof/3/${hash.slice(1)}`, status: 400, message: /want 64 hex digits/ },
    { name: 'inclusion: not hex', method: 'GET', path: `/get-inclusion-proof/3/${'zz'.repeat(32)}`, status: 400, message: /want 64 hex digits/ },
    { name: 'inclusion: unknown leaf', method: 'GET', path: `/get-inclusion-proof/3/${toHex(unknownLeaf.leafHash)}`, status: 404, message: /not included/ },
    { name: 'inclusion: POST', method: 'POST', path: `/get-inclusion-proof/3/${hash}`, status: 405, message: /use GET/ },
    // get-consistency-proof
    { name: 'consistency: old 0', method: 'GET', path: '/get-consistency-proof/0/3', status: 400, message: /old size 0 must be at least 1/ },
    { name: 'consistency: equal', method: 'GET', path: '/get-consistency-proof/2/2', status: 400, message: /must be larger than old size/ },
    { name: 'consistency: reversed', method: 'GET', path: '/get-consistency-proof/3/2', status: 400, message: /must be larger than old size/ },
    { name: 'consistency: beyond', method: 'GET', path: '/get-consistency-proof/1/4', status: 400, message: /beyond the published tree head/ },
    { name: 'consistency: leading zero', method: 'GET', path: '/get-consistency-proof/01/2', status: 400, message: /leading zeros/ },
    { name: 'consistency: huge', method: 'GET', path: `/get-consistency-proof/1/${big}0`, status: 400, message: /larger than 2\^63-1/ },
    { name: 'consistency: three args', method: 'GET', path: '/get-consistency-proof/1/2/3', status: 400, message: /takes 2 path arguments/ },
    // get-leaves
    { name: 'leaves: empty range', method: 'GET', path: '/get-leaves/1/1', status: 400, message: /must be less than end index/ },
    { name: 'leaves: start beyond', method: 'GET', path: '/get-leaves/3/5', status: 400, message: /start index 3 is beyond/ },
    { name: 'leaves: end beyond', method: 'GET', path: '/get-leaves/0/4', status: 400, message: /end index 4 is beyond/ },
    { name: 'leaves: end 2^63-1', method: 'GET', path: `/get-leaves/0/${max}`, status: 400, message: /^end index 9223372036854775807 is beyond the tree head/ },
    { name: 'leaves: both huge', method: 'GET', path: `/get-leaves/9007199254740993/${max}`, status: 400, message: /^start index 9007199254740993 is beyond/ },
    { name: 'consistency: new 2^63-1', method: 'GET', path: `/get-consistency-proof/1/${max}`, status: 400, message: /^new size 9223372036854775807 is beyond/ },
    { name: 'leaves: negative', method: 'GET', path: '/get-leaves/-1/2', status: 400, message: /not a decimal integer/ },
    { name: 'leaves: trailing slash', method: 'GET', path: '/get-leaves/0/2/', status: 400, message: /takes 2 path arguments/ },
    { name: 'leaves: bad escape', method: 'GET', path: '/get-leaves/%zz/2', status: 400, message: /percent-encoding/ },
    // add-leaf
    { name: 'add-leaf: GET', method: 'GET', path: '/add-leaf', status: 405, message: /use POST/ },
    { name: 'add-leaf: empty body', method: 'POST', path: '/add-leaf', body: '', status: 400, message: /message/ },
    { name: 'add-leaf: missing newline', method: 'POST', path: '/add-leaf', body: good.body.slice(0, -1), status: 400, message: /newline/ },
    { name: 'add-leaf: key order', method: 'POST', path: '/add-leaf', body: `signature=${sig}\nmessage=${msg}\npublic_key=${pub}\n`, status: 400, message: /message/ },
    { name: 'add-leaf: extra key', method: 'POST', path: '/add-leaf', body: `${good.body}extra=1\n`, status: 400, message: /extra/ },
    { name: 'add-leaf: duplicate key', method: 'POST', path: '/add-leaf', body: `message=${msg}\nmessage=${msg}\nsignature=${sig}\npublic_key=${pub}\n`, status: 400, message: /message/ },
    { name: 'add-leaf: odd hex', method: 'POST', path: '/add-leaf', body: `message=${msg.slice(1)}\nsignature=${sig}\npublic_key=${pub}\n`, status: 400, message: /key 'message': expected 64 hex characters, got 63/ },
    { name: 'add-leaf: short message', method: 'POST', path: '/add-leaf', body: `message=${msg.slice(2)}\nsignature=${sig}\npublic_key=${pub}\n`, status: 400, message: /key 'message': expected 64 hex characters, got 62/ },
    { name: 'add-leaf: CRLF', method: 'POST', path: '/add-leaf', body: good.body.replace(/\n/g, '\r\n'), status: 400, message: /invalid character in value of key 'message'/ },
    { name: 'add-leaf: non-ASCII', method: 'POST', path: '/add-leaf', body: `message=${msg}\nsignature=${sig}\npublic_key=${pub}\u00e9\n`, status: 400, message: /ASCII/ },
    { name: 'add-leaf: bad signature', method: 'POST', path: '/add-leaf', body: `message=${msg}\nsignature=${sig.replace(/^./, sig[0] === 'a' ? 'b' : 'a')}\npublic_key=${pub}\n`, status: 403, message: /does not verify/ },
    { name: 'add-leaf: other key', method: 'POST', path: '/add-leaf', body: `message=${msg}\nsignature=${sig}\npublic_key=${toHex(setup.signer.publicKey)}\n`, status: 403, message: /does not verify/ },
    { name: 'add-leaf: 10 MB body', method: 'POST', path: '/add-leaf', body: Buffer.alloc(10 * 1024 * 1024, 0x61), status: 413, message: /larger than the limit/ },
    {
      name: 'add-leaf: 10 MB chunked body',
      method: 'POST',
      path: '/add-leaf',
      body: Buffer.alloc(10 * 1024 * 1024, 0x61),
      headers: { 'transfer-encoding': 'chunked' },
      status: 413,
      message: /larger than the limit of 4096 bytes/,
    },
    // paths
    { name: 'unknown endpoint', method: 'GET', path: '/get-everything', status: 404, message: /unknown endpoint/ },
    { name: 'traversal', method: 'GET', path: '/../../etc/passwd', status: 404, message: /unknown endpoint/ },
    { name: 'traversal in args', method: 'GET', path: '/get-leaves/../add-leaf', status: 405, message: /use POST/ },
    { name: 'root (the info page) posted to', method: 'POST', path: '/', status: 405, message: /method not allowed; use GET/ },
    { name: 'root with an argument', method: 'GET', path: '//x', status: 400, message: /^\/ takes no path arguments$/m },
  ];

  for (const c of cases) {
    const res = await rawRequest(setup.publicPort, c.method, c.path, c.body, c.headers);
    assert.equal(res.status, c.status, `${c.name}: status (body: ${res.body})`);
    assert.match(res.body, c.message, `${c.name}: message`);
    assert.ok(res.body.endsWith('\n') && res.body.trim().split('\n').length === 1, `${c.name}: one line: ${JSON.stringify(res.body)}`);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8', `${c.name}: content type`);
  }

  // Requests node:http refuses before routing, on both listeners and both add-leaf paths.
  for (const [listener, port] of [['public', setup.publicPort], ['internal', setup.internalPort]] as const) {
    for (const path of ['/add-leaf', '/add-leaf?via=hono', '/get-tree-head-unsigned']) {
      for (const c of rawBadRequests(path)) {
        const a = await rawExchange(port, c.bytes);
        const what = `${listener} ${path} ${c.name}: ${JSON.stringify(a.raw.slice(0, 200))}`;
        assert.equal(a.status, c.status, what);
        assert.match(a.body.trimEnd(), c.message, what);
        assert.ok(a.body.endsWith('\n') && !a.body.trimEnd().includes('\n'), `${what}: one line`);
        assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8', what);
      }
    }
  }

  // Both listeners run with the configured HTTP limits: a connection that sends a partial
  // head and then nothing is closed after headers-timeout (default 5 s; node's own is 60 s).
  const idle = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const socket = connect({ host: '127.0.0.1', port });
      const giveUp = setTimeout(() => {
        socket.destroy();
        reject(new Error(`port ${port}: still open after 20 s`));
      }, 20_000);
      socket.on('connect', () => socket.write('GET /get-tree-head HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(giveUp);
        resolve(Date.now() - started);
      });
    });
  await Promise.all([idle(setup.publicPort), idle(setup.internalPort)]);

  // add-leaf is served straight from node:http, except for a target with a
  // query string, which goes through hono: both paths must answer alike.
  for (const c of cases.filter((k) => k.method === 'POST' && k.path === '/add-leaf')) {
    const direct = await rawRequest(setup.publicPort, 'POST', '/add-leaf', c.body, c.headers);
    const viaHono = await rawRequest(setup.publicPort, 'POST', '/add-leaf?via=hono', c.body, c.headers);
    assert.equal(viaHono.status, direct.status, `${c.name}: status via hono`);
    assert.equal(viaHono.body, direct.body, `${c.name}: body via hono`);
    for (const h of ['content-type', 'content-length', 'retry-after', 'allow']) {
      assert.equal(viaHono.headers[h], direct.headers[h], `${c.name}: ${h} via hono`);
    }
  }

  // Still healthy, and no leaf was written: the local (sequenced) tree is
  // still 3 leaves after more than a rotation interval.
  await new Promise((r) => setTimeout(r, 500));
  const local = parseTreeHead((await http(`${setup.internalUrl}/get-tree-head-unsigned`)).body);
  assert.equal(local.size, 3);
  const head = parseCosignedTreeHead((await http(`${setup.publicUrl}/get-tree-head`)).body);
  assert.equal(head.size, 3);
  // And a good request still works.
  await submitUntilPublished(setup.publicUrl, [good], 20_000);
  await waitUntil('size 4', async () => (parseCosignedTreeHead((await http(`${setup.publicUrl}/get-tree-head`)).body).size === 4 ? true : undefined));
});
