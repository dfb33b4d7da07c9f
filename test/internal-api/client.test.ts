// The internal API client: its fast get-leaves parser accepts exactly what
// the strict ASCII parser accepts, and the client's handling of base URLs,
// statuses and malformed answers against a real in-process server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { UpstreamError } from '../../src/errors.js';
import { decodeTreeLeaf, encodeTreeLeaf } from '../../src/formats/leaf.js';
import { formatLeaves, parseLeaves } from '../../src/formats/messages.js';
import { startServer } from '../../src/http/serve.js';
import { internalApp, internalRoutes } from '../../src/internal-api/app.js';
import { buildApp } from '../../src/http/router.js';
import { ok, textReply } from '../../src/http/respond.js';
import { InternalApiClient, normalizeBaseUrl, parseEncodedLeaves } from '../../src/internal-api/client.js';
import { BINARY_LEAVES_ACCEPT, BINARY_LEAVES_TYPE, decodeBinaryLeaves } from '../../src/internal-api/binary-leaves.js';
import { tempDir } from '../helpers/log-fixture.js';
import { captureLog, randomLeaves, treeSource, treeWith } from '../replication/fixture.js';

function outcome(parse: () => Uint8Array[]): string {
  try {
    return 'ok:' + parse().map((l) => Buffer.from(l).toString('hex')).join(',');
  } catch (err) {
    return `error:${(err as Error).constructor.name}:${(err as Error).message}`;
  }
}

test('parseEncodedLeaves agrees with parseLeaves on good and bad answers', () => {
  const leaves = randomLeaves(3);
  const good = formatLeaves(leaves.map(decodeTreeLeaf));
  const lines = good.split('\n').slice(0, -1);
  const inputs = [
    good,
    good.toUpperCase().replace(/LEAF=/g, 'leaf='), // hex is case-insensitive
    lines[0] + '\n',
    '',
    good.slice(0, -1), // no final newline
    good + '\n', // empty line
    good.replace(' ', '  ').slice(0, -1), // right length, doubled space
    good.replace(' ', '\t'),
    good.replace('leaf=', 'leaf:'),
    good.replace('leaf=', 'Leaf='),
    good.replace(/^leaf=(.)/, 'leaf=g'),
    good.replace(/^leaf=(.)/, 'leaf=\u00e9'),
    lines[0]!.slice(0, 100) + 'x' + lines[0]!.slice(101) + '\n',
    good + 'other=1\n',
    `${lines[0]}\r\n`,
  ];
  for (const text of inputs) {
    for (const max of [3, 2]) {
      assert.equal(
        outcome(() => parseEncodedLeaves(text, max)),
        outcome(() => parseLeaves(text, max).map(encodeTreeLeaf)),
        JSON.stringify(text.slice(0, 80)),
      );
    }
  }
  assert.deepEqual(parseEncodedLeaves(good, 3).map((l) => Buffer.from(l)), leaves.map((l) => Buffer.from(l)));
});

test('normalizeBaseUrl keeps a prefix and drops trailing slashes; refuses what is not an http base URL', () => {
  assert.equal(normalizeBaseUrl('http://127.0.0.1:6967'), 'http://127.0.0.1:6967');
  assert.equal(normalizeBaseUrl('http://127.0.0.1:6967/'), 'http://127.0.0.1:6967');
  assert.equal(normalizeBaseUrl('http://h:1/testonly//'), 'http://h:1/testonly');
  for (const bad of ['127.0.0.1:6967', 'ftp://h/', 'http://h/?x=1', 'http://h/#f', '']) {
    assert.throws(() => normalizeBaseUrl(bad), UpstreamError, bad);
  }
});

test('client: url-prefix, end of tree, errors and malformed answers', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const tree = treeWith(join(dir.path, 'up.db'), randomLeaves(10));
  t.after(() => tree.close());
  const log = captureLog();
  const prefixed = await startServer(internalApp(internalRoutes(treeSource(tree), 4), '/testonly', undefined, log), '127.0.0.1:0');
  t.after(() => prefixed.close());
  const client = new InternalApiClient({ baseUrl: `http://${prefixed.address}/testonly/`, timeoutMs: 2_000 });
  t.after(() => client.close());
  assert.equal((await client.treeHeadUnsigned()).size, 10);
  assert.equal((await client.leaves(0, 10)).length, 4, 'clamped to max-range');
  assert.equal((await client.leaves(8, 100)).length, 2);
  assert.deepEqual(await client.leaves(10, 20), [], 'at end of tree');
  await assert.rejects(client.leaves(11, 20), /status 400: start index 11 is beyond the local tree/);
  assert.equal(await client.publishedTreeHead(), undefined, 'no published head yet');
  await assert.rejects(client.treeHeadToCosign(), (err: Error) => err instanceof UpstreamError && err.status === 404);

  // Without the prefix every endpoint is unknown.
  const noPrefix = new InternalApiClient({ baseUrl: `http://${prefixed.address}`, timeoutMs: 2_000 });
  t.after(() => noPrefix.close());
  await assert.rejects(noPrefix.treeHeadUnsigned(), /status 404: unknown endpoint/);

  // Answers that do not parse are UpstreamErrors naming the URL.
  const liar = await startServer(
    buildApp(
      [
        { method: 'GET', name: 'get-tree-head-unsigned', args: 0, handle: () => ok('size=1\n') },
        { method: 'GET', name: 'get-leaves', args: 2, handle: () => ok(formatLeaves(randomLeaves(5).map(decodeTreeLeaf))) },
        { method: 'GET', name: 'get-tree-head', args: 0, handle: () => textReply(500, 'boom\n') },
      ],
      '',
      log,
    ),
    '127.0.0.1:0',
  );
  t.after(() => liar.close());
  const confused = new InternalApiClient({ baseUrl: `http://${liar.address}`, timeoutMs: 2_000 });
  t.after(() => confused.close());
  await assert.rejects(confused.treeHeadUnsigned(), /get-tree-head-unsigned: malformed answer: .*root_hash/);
  await assert.rejects(confused.leaves(0, 3), /get-leaves\/0\/3: malformed answer: .*more than 3 leaves/);
  await assert.rejects(confused.publishedTreeHead(), /status 500: boom/);
});

test('get-leaves between sigsum-log nodes is binary when asked for; an ASCII-only peer (log-go) still works; bad binary answers are refused', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const stored = randomLeaves(10);
  const tree = treeWith(join(dir.path, 'up.db'), stored);
  t.after(() => tree.close());
  const log = captureLog();
  const ours = await startServer(internalApp(internalRoutes(treeSource(tree), 8), '', undefined, log), '127.0.0.1:0');
  t.after(() => ours.close());

  // The server: binary only for a client that asks; ASCII otherwise (log-go's primary and our own tools).
  const asked = await fetch(`http://${ours.address}/get-leaves/0/3`, { headers: { accept: BINARY_LEAVES_ACCEPT } });
  assert.equal(asked.headers.get('content-type'), BINARY_LEAVES_TYPE);
  assert.deepEqual(Buffer.from(await asked.arrayBuffer()), Buffer.concat(stored.slice(0, 3)));
  const plain = await fetch(`http://${ours.address}/get-leaves/0/3`);
  assert.match(plain.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(await plain.text(), formatLeaves(stored.slice(0, 3).map(decodeTreeLeaf)));

  const client = new InternalApiClient({ baseUrl: `http://${ours.address}`, timeoutMs: 2_000 });
  t.after(() => client.close());
  assert.deepEqual((await client.leaves(2, 100)).map((l) => Buffer.from(l)), stored.slice(2).map((l) => Buffer.from(l)), 'clamped to max-range 8');
  assert.deepEqual(await client.leaves(10, 20), [], 'at end of tree');

  // A peer that ignores Accept, as log-go does: the ASCII answer is parsed as before.
  let sawAccept: string | undefined;
  const asciiOnly = await startServer(
    buildApp(
      [
        {
          method: 'GET',
          name: 'get-leaves',
          args: 2,
          handle: (req) => {
            sawAccept = req.header('accept');
            return ok(formatLeaves(stored.slice(0, 4).map(decodeTreeLeaf)));
          },
        },
      ],
      '',
      log,
    ),
    '127.0.0.1:0',
  );
  t.after(() => asciiOnly.close());
  const toAscii = new InternalApiClient({ baseUrl: `http://${asciiOnly.address}`, timeoutMs: 2_000 });
  t.after(() => toAscii.close());
  assert.deepEqual((await toAscii.leaves(0, 4)).map((l) => Buffer.from(l)), stored.slice(0, 4).map((l) => Buffer.from(l)));
  assert.equal(sawAccept, BINARY_LEAVES_ACCEPT);

  // Binary answers that cannot be right.
  const bodies: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['a partial leaf', Buffer.alloc(200)],
    ['more leaves than asked for', Buffer.concat(stored.slice(0, 3))],
  ];
  for (const [what, body] of bodies) {
    const liar = await startServer(
      buildApp([{ method: 'GET', name: 'get-leaves', args: 2, handle: () => ({ status: 200, body, headers: { 'content-type': BINARY_LEAVES_TYPE } }) }], '', log),
      '127.0.0.1:0',
    );
    const confused = new InternalApiClient({ baseUrl: `http://${liar.address}`, timeoutMs: 2_000 });
    await assert.rejects(confused.leaves(0, 2), (err: Error) => err instanceof UpstreamError && /get-leaves\/0\/2: malformed answer/.test(err.message), what);
    await confused.close();
    await liar.close();
  }
  assert.deepEqual(decodeBinaryLeaves(Buffer.concat(stored.slice(0, 2)), 2).length, 2);
});
