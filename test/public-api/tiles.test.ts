// The tlog-tiles read path over real HTTP and a real SQLite tree of 70,000
// leaves (the spec's example size): tile hashes equal the tree's hashes
// recomputed independently from the leaves, bundles hold the stored leaves,
// the checkpoint is the published head as a signed note with the witnesses'
// cosignature lines, caching and CORS headers are as the spec and Sunlight
// serve them, entry bundles are gzipped when asked, and nothing beyond the
// published head is served even when the store holds more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { generateSeed, keyHash, signerFromSeed } from '../../src/crypto/index.js';
import { cosignTreeHead, verifyCosignature, verifyTreeHeadSignature, signTreeHead } from '../../src/formats/checkpoint.js';
import { parseSigsumCheckpointNote, parseWitnessCosignatures } from '../../src/formats/signed-note.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { bytesEqual } from '../../src/hex.js';
import { startServer } from '../../src/http/serve.js';
import { publicApp, READ_REPLICA_SUBMITTER } from '../../src/public-api/app.js';
import { PublishedReads } from '../../src/public-api/reads.js';
import { decodeEntryBundle } from '../../src/tiles/layout.js';
import { leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import type { Hash } from '../../src/types.js';
import { tempDir } from '../helpers/log-fixture.js';
import { captureLog, randomLeaves, treeWith } from '../replication/fixture.js';

const STORED = 70_500;
const PUBLISHED = 70_000;

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url, { method, headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

test('tiles: hashes, bundles, checkpoint and headers over HTTP, bounded by the published head', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = randomLeaves(STORED);
  const tree = treeWith(join(dir.path, 'tree.db'), leaves, 5000);
  t.after(() => tree.close());
  const logSigner = signerFromSeed(generateSeed());
  const witness = signerFromSeed(generateSeed());
  const unknownWitness = signerFromSeed(generateSeed());
  const sth = signTreeHead(logSigner, { size: PUBLISHED, rootHash: tree.rootAt(PUBLISHED) });
  const now = Math.floor(Date.now() / 1000);
  const head: CosignedTreeHead = {
    ...sth,
    cosignatures: [cosignTreeHead(witness, keyHash(logSigner.publicKey), sth, now), cosignTreeHead(unknownWitness, keyHash(logSigner.publicKey), sth, now)],
  };
  let served: CosignedTreeHead | undefined = head;
  const reads = new PublishedReads({
    store: tree,
    head: () => served,
    maxRange: 512,
    logPublicKey: logSigner.publicKey,
    witnessKey: (h) => (bytesEqual(h, keyHash(witness.publicKey)) ? witness.publicKey : undefined),
  });
  const server = await startServer(publicApp(reads, READ_REPLICA_SUBMITTER, '/pre/fix', captureLog()).app, '127.0.0.1:0');
  t.after(() => server.close());
  const base = `http://${server.address}/pre/fix`;

  // checkpoint: the published head, the log's signature line, the known witness's cosignature line.
  const cp = await get(`${base}/checkpoint`);
  assert.equal(cp.status, 200);
  assert.equal(cp.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(cp.headers.get('cache-control'), 'no-cache');
  assert.equal(cp.headers.get('access-control-allow-origin'), '*');
  const text = cp.body.toString('utf8');
  assert.ok(text.startsWith(`sigsum.org/v1/tree/${Buffer.from(keyHash(logSigner.publicKey)).toString('hex')}\n70000\n${Buffer.from(head.rootHash).toString('base64')}\n\n`), text);
  const parsed = parseSigsumCheckpointNote(text, logSigner.publicKey);
  assert.ok(verifyTreeHeadSignature(logSigner.publicKey, parsed));
  const cosigs = parseWitnessCosignatures(text.slice(text.indexOf('\n\n') + 2), witness.publicKey);
  assert.equal(cosigs.length, 1);
  assert.ok(verifyCosignature(witness.publicKey, keyHash(logSigner.publicKey), parsed, cosigs[0]!));
  assert.equal(text.split('\n').filter((l) => l.startsWith('— ')).length, 2, 'the unknown witness has no line');

  const leafHashes = leaves.slice(0, PUBLISHED).map((l) => leafHash(l));
  const expectLevel = (level: number, index: number): Hash => {
    const span = 256 ** level;
    return rootFromLeafHashes(leafHashes.slice(index * span, (index + 1) * span));
  };
  const checkTile = async (path: string, level: number, first: number, width: number, full: boolean): Promise<void> => {
    const res = await get(`${base}/${path}`);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream', path);
    assert.equal(res.headers.get('cache-control'), full ? 'public, max-age=31536000, immutable' : 'public, max-age=60', path);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.body.length, width * 32, path);
    for (let i = 0; i < width; i++) {
      assert.ok(res.body.subarray(i * 32, i * 32 + 32).equals(Buffer.from(expectLevel(level, first + i))), `${path} hash ${i}`);
    }
  };
  await checkTile('tile/0/000', 0, 0, 256, true);
  await checkTile('tile/0/272', 0, 272 * 256, 256, true);
  await checkTile('tile/0/273.p/112', 0, 273 * 256, 112, false);
  await checkTile('tile/0/273.p/5', 0, 273 * 256, 5, false); // an older head's partial tile
  await checkTile('tile/1/000', 1, 0, 256, true);
  await checkTile('tile/1/001.p/17', 1, 256, 17, false);
  await checkTile('tile/2/000.p/1', 2, 0, 1, false);

  // Entry bundles: each leaf as its 128-byte encoding, uint16-length-prefixed; gzip when accepted.
  const plainBundle = await rawGet(server.port, '/pre/fix/tile/entries/001', undefined);
  assert.equal(plainBundle.status, 200);
  assert.equal(plainBundle.headers['content-encoding'], undefined);
  assert.equal(plainBundle.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(plainBundle.body.length, 256 * 130);
  const entries = decodeEntryBundle(plainBundle.body);
  assert.ok(entries.every((e, i) => Buffer.from(e).equals(Buffer.from(leaves[256 + i]!))));
  for (const accept of ['gzip', 'gzip, deflate, br', 'identity;q=0.5, gzip;q=1']) {
    const res = await fetch(`${base}/tile/entries/001`, { headers: { 'accept-encoding': accept } });
    assert.equal(res.headers.get('content-encoding'), 'gzip', accept);
    assert.equal(res.headers.get('vary'), 'accept-encoding');
    // fetch decodes gzip itself: the bytes are the bundle.
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(plainBundle.body), accept);
  }
  const raw = await rawGet(server.port, '/pre/fix/tile/entries/273.p/112', 'gzip');
  assert.equal(raw.headers['content-encoding'], 'gzip');
  assert.equal(raw.headers['cache-control'], 'public, max-age=60');
  assert.ok(gunzipSync(raw.body).equals(Buffer.from(decodeToBundle(leaves.slice(273 * 256, PUBLISHED)))));
  assert.equal((await rawGet(server.port, '/pre/fix/tile/entries/000', 'gzip;q=0')).headers['content-encoding'], undefined);
  const headRes = await get(`${base}/tile/0/000`, {}, 'HEAD');
  assert.equal(headRes.status, 200);
  assert.equal(headRes.headers.get('content-length'), '8192');

  // Beyond the published head: 404, though the store holds those leaves.
  for (const path of ['tile/0/273', 'tile/0/273.p/113', 'tile/entries/274.p/1', 'tile/1/001.p/18', 'tile/2/000.p/2', 'tile/3/000.p/1']) {
    const res = await get(`${base}/${path}`);
    assert.equal(res.status, 404, path);
    assert.match(res.body.toString(), /^[^\n]+ is not covered by the published tree head \(size 70000\)\n$/, path);
  }
  // No head yet (a replica that has verified none): 503, retry later.
  served = undefined;
  for (const path of ['checkpoint', 'tile/0/000', 'get-tree-head']) {
    const res = await get(`${base}/${path}`);
    assert.equal(res.status, 503, path);
    assert.equal(res.headers.get('retry-after'), '5');
  }
});

test('tiles: malformed tile paths over HTTP are 400 with a one-line reason, never a 500', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = randomLeaves(300);
  const tree = treeWith(join(dir.path, 'tree.db'), leaves, 300);
  t.after(() => tree.close());
  const logSigner = signerFromSeed(generateSeed());
  const head: CosignedTreeHead = { ...signTreeHead(logSigner, { size: 300, rootHash: tree.rootAt(300) }), cosignatures: [] };
  const reads = new PublishedReads({ store: tree, head: () => head, maxRange: 512, logPublicKey: logSigner.publicKey, witnessKey: () => undefined });
  const server = await startServer(publicApp(reads, READ_REPLICA_SUBMITTER, '', captureLog()).app, '127.0.0.1:0');
  t.after(() => server.close());
  const cases: Array<{ path: string; body: RegExp }> = [
    { path: 'tile', body: /argument/ },
    { path: 'tile/0', body: /want tile\/<L>\/<N>/ },
    { path: 'tile/64/000', body: /level must be 0 … 63/ },
    { path: 'tile/00/000', body: /level must be/ },
    { path: 'tile/-1/000', body: /level must be/ },
    { path: 'tile/x/000', body: /level must be/ },
    { path: 'tile/0/0', body: /3 digits/ },
    { path: 'tile/0/0000', body: /3 digits/ },
    { path: 'tile/0/abc', body: /3 digits/ },
    { path: 'tile/0/001/000', body: /starts with x/ },
    { path: 'tile/0/x000/001', body: /leading x000/ },
    { path: 'tile/0/x001/x002/x003/x004/x005/x006/007', body: /1 to 6 path elements/ },
    { path: 'tile/0/x999/x999/x999/x999/x999/999', body: /index too large/ },
    { path: 'tile/0/000.p/0', body: /partial width must be 1 … 255/ },
    { path: 'tile/0/000.p/256', body: /partial width/ },
    { path: 'tile/0/000.p/044', body: /partial width/ },
    { path: 'tile/0/000.p/', body: /argument|partial width/ },
    { path: 'tile/entries/000.p/x', body: /partial width/ },
    { path: 'tile/entries', body: /want tile\/<L>\/<N>/ },
    { path: 'checkpoint/extra', body: /takes no path arguments|argument/ },
  ];
  for (const c of cases) {
    const res = await get(`http://${server.address}/${c.path}`);
    const body = res.body.toString('utf8');
    assert.equal(res.status, 400, `${c.path}: ${body}`);
    assert.match(body, /^[^\n]+\n$/, `${c.path}: one line`);
    assert.match(body, c.body, c.path);
  }
});

function decodeToBundle(entries: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from([e.length >> 8, e.length & 0xff]), Buffer.from(e)])));
}

/** A GET with node:http, which leaves Content-Encoding alone. */
async function rawGet(
  port: number,
  path: string,
  acceptEncoding: string | undefined,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const headers = acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding };
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}
