// Static export served by Debian's nginx, with no log process behind the
// URL: a running primary exports each published head into tiles-dir while
// leaves are added; verify-tiles against nginx passes after each head (and
// with --since the previous checkpoint), an inclusion proof built from
// nginx's tiles verifies for every leaf, and a changed byte fails the check.
// Then the partial tile widths at sizes 1, 255, 256, 257 and 65,537, exported
// head by head and read back through nginx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { parseSigsumCheckpointNote } from '../../src/formats/signed-note.js';
import { parseInclusionProof } from '../../src/formats/messages.js';
import { toHex } from '../../src/hex.js';
import { TileExporter } from '../../src/tiles/export.js';
import { decodeEntryBundle, formatTilePath, partialTileWidth, tileLevelCount } from '../../src/tiles/layout.js';
import { checkTiles, httpTileSource } from '../../src/tiles/verify.js';
import { leafHash } from '../../src/tree/hash.js';
import { inclusionProof } from '../../src/tree/proof.js';
import { TreeStore } from '../../src/tree/store.js';
import { verifyInclusion } from '../../src/tree/verify.js';
import { requireComponent } from '../helpers/components.js';
import { preparePrimary, startNodeProcess, tempDir, makeKey } from '../helpers/log-fixture.js';
import { startNginx } from '../helpers/nginx.js';
import { http, runCli, waitUntil } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';
import { captureLog, randomLeaves } from '../replication/fixture.js';

/** Every partial-tile file under a tiles dir, as paths relative to it. */
function partialFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.p\/\d+$/.test(relative(dir, p))) out.push(relative(dir, p));
    }
  };
  if (existsSync(join(dir, 'tile'))) walk(join(dir, 'tile'));
  return out.sort();
}

/** The partial tiles a tree of `size` has, per the spec. */
function expectedPartials(size: number): string[] {
  const out: string[] = [];
  for (let level = 0; level < tileLevelCount(size); level++) {
    const width = partialTileWidth(level, size);
    if (width > 0) out.push(formatTilePath({ level, index: Math.floor(Math.floor(size / 256 ** level) / 256), width }));
  }
  const w0 = partialTileWidth(0, size);
  if (w0 > 0) out.push(formatTilePath({ level: 'entries', index: Math.floor(size / 256), width: w0 }));
  return out.sort();
}

test('nginx serves a primary\'s tiles-dir: verify-tiles passes after each head, proofs from its tiles verify, a changed byte fails', async (t) => {
  const nginx = requireComponent(t, 'nginx');
  if (nginx === undefined) return;
  const dir = tempDir();
  t.after(() => dir.remove());
  const tilesDir = join(dir.path, 'www', 'log');
  const setup = await preparePrimary(dir.path, { interval: '300ms', top: { 'tiles-dir': tilesDir } });
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  const server = await startNginx(t, nginx, join(dir.path, 'www'));
  const base = `${server.url}/log`;
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  const pub = `${setup.keyFile}.pub`;

  const all: ReturnType<typeof makeLeaf>[] = [];
  let previous: string | undefined;
  for (const batch of [1, 300, 20, 500]) {
    const leaves = Array.from({ length: batch }, () => makeLeaf(submitter));
    await submitUntilPublished(setup.publicUrl, leaves, 60_000);
    all.push(...leaves);
    // nginx (files only) catches up with the primary's published head.
    const text = await waitUntil(`nginx serves a checkpoint of size ${all.length}`, async () => {
      const res = await http(`${base}/checkpoint`);
      return res.status === 200 && parseSigsumCheckpointNote(res.body, setup.signer.publicKey).size === all.length ? res.body : undefined;
    }, 30_000, 100);
    const args = ['verify-tiles', '--url', base, '--log-pubkey-file', pub];
    if (previous !== undefined) args.push('--since', previous);
    const run = await runCli(args, 60_000);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, new RegExp(`OK: size ${all.length}`));
    previous = join(dir.path, `checkpoint-${all.length}`);
    writeFileSync(previous, text);
    // The primary serves the same bytes itself.
    assert.equal((await http(`${setup.publicUrl}/checkpoint`)).body.split('\n\n')[0], text.split('\n\n')[0]);
    assert.deepEqual(partialFiles(tilesDir), expectedPartials(all.length), 'exactly the partial tiles of the newest head');
  }

  // An inclusion proof from nginx's tiles verifies for every leaf (and is the primary's).
  const { checkpoint, reader } = await checkTiles({ source: httpTileSource(base), logPublicKey: setup.signer.publicKey });
  assert.equal(checkpoint.size, all.length);
  const entries = [0, 1, 2, 3].flatMap((n) => decodeEntryBundle(readFileSync(join(tilesDir, n < 3 ? `tile/entries/00${n}` : 'tile/entries/003.p/53'))));
  assert.equal(entries.length, all.length);
  for (let i = 0; i < all.length; i++) {
    const hash = leafHash(entries[i]!);
    const path = inclusionProof(reader, i, checkpoint.size);
    assert.ok(verifyInclusion(hash, i, checkpoint.size, path, checkpoint.rootHash), `leaf ${i}`);
    if (i % 97 === 0) {
      const res = await http(`${setup.publicUrl}/get-inclusion-proof/${checkpoint.size}/${toHex(hash)}`);
      assert.deepEqual(parseInclusionProof(res.body).path.map(toHex), path.map(toHex), `leaf ${i}: same path as the primary's`);
    }
  }
  assert.deepEqual(entries.map((e) => toHex(leafHash(e))).sort(), all.map((l) => toHex(l.leafHash)).sort(), 'the bundles hold exactly the submitted leaves');

  // One changed byte in a bundle: verify-tiles fails (exit 1) and names it.
  await primary.stop(); // no more exports
  const bundle = join(tilesDir, 'tile/entries/001');
  const original = readFileSync(bundle);
  const changed = Buffer.from(original);
  changed[2 + 40] = (changed[2 + 40] as number) ^ 1;
  writeFileSync(bundle, changed);
  const bad = await runCli(['verify-tiles', '--url', base, '--log-pubkey-file', pub], 60_000);
  assert.equal(bad.code, 1, bad.output);
  assert.match(bad.output, /FAILED: tile\/entries\/001: entry 0 \(leaf 256\) does not hash to its level-0 tile hash/);
  writeFileSync(bundle, original);
  assert.equal((await runCli(['verify-tiles', '--url', base, '--log-pubkey-file', pub], 60_000)).code, 0);
});

test('nginx: partial tile widths at sizes 1, 255, 256, 257 and 65,537 follow the spec; replaced partials are removed', async (t) => {
  const nginx = requireComponent(t, 'nginx');
  if (nginx === undefined) return;
  const dir = tempDir();
  t.after(() => dir.remove());
  const tilesDir = join(dir.path, 'www');
  const server = await startNginx(t, nginx, tilesDir);
  const tree = TreeStore.open(join(dir.path, 'tree.db'));
  t.after(() => tree.close());
  const signer = signerFromSeed(generateSeed());
  const exporter = new TileExporter({ dir: tilesDir, store: tree, logPublicKey: signer.publicKey, log: captureLog() });
  for (const size of [1, 255, 256, 257, 65_537]) {
    const add = randomLeaves(size - tree.size());
    for (let i = 0; i < add.length; i += 10_000) tree.appendLeaves(add.slice(i, i + 10_000));
    const head = { ...signTreeHead(signer, { size, rootHash: tree.rootAt(size) }), cosignatures: [] };
    const report = await exporter.exportHead(head);
    assert.equal(report.size, size);
    assert.deepEqual(partialFiles(tilesDir), expectedPartials(size), `size ${size}`);
    const { checkpoint } = await checkTiles({ source: httpTileSource(server.url), logPublicKey: signer.publicKey });
    assert.equal(checkpoint.size, size);
  }
  // The spec's widths, spelled out: 65,537 = 256·256 + 1.
  assert.deepEqual(expectedPartials(65_537), ['tile/0/256.p/1', 'tile/2/000.p/1', 'tile/entries/256.p/1']);
  assert.deepEqual(expectedPartials(257), ['tile/0/001.p/1', 'tile/1/000.p/1', 'tile/entries/001.p/1']);
  assert.deepEqual(expectedPartials(256), ['tile/1/000.p/1']);
  for (const path of ['tile/0/256.p/1', 'tile/2/000.p/1', 'tile/1/000', 'tile/0/255']) {
    const res = await fetch(`${server.url}/${path}`);
    assert.equal(res.status, 200, path);
    assert.equal((await res.arrayBuffer()).byteLength, path.includes('.p/') ? 32 : 8192, path);
  }
  for (const path of ['tile/0/000.p/1', 'tile/0/000.p/255', 'tile/entries/001.p/1', 'tile/1/000.p/1']) {
    assert.equal((await fetch(`${server.url}/${path}`)).status, 404, `${path}: replaced, removed`);
  }
});
