// The pure parts of the lifecycle commands: the backup manifest's parser
// (every malformed field refused with its name) and the bisection that names
// the first leaf a lying source changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { formatManifest, parseManifest, ManifestError, type BackupManifest } from '../../src/backup/manifest.js';
import { locateDifference } from '../../src/replication/public-source.js';
import { TreeStore } from '../../src/tree/store.js';
import type { Hash } from '../../src/types.js';
import { UpstreamError } from '../../src/errors.js';
import { tempDir } from '../helpers/log-fixture.js';
import { randomBytes } from 'node:crypto';

const HEX = 'ab'.repeat(32);
const good: BackupManifest = {
  format: 'sigsum-log-backup/1',
  software: '0.1.0',
  createdAt: '2026-12-01T08:00:00.000Z',
  lifecycle: 'appending',
  tree: { size: 10, root: HEX },
  publishedHead: { size: 8, root: HEX, source: 'sth-file' },
  files: [
    { name: 'log.db', role: 'database', bytes: 4096, sha256: HEX },
    { name: 'sth', role: 'sth', bytes: 200, sha256: HEX },
  ],
};

test('manifest: round trip, and every malformed field is refused by name', () => {
  assert.deepEqual(parseManifest(formatManifest(good)), good);
  const bad = (change: (m: Record<string, unknown>) => void): string => {
    const m = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    change(m);
    return JSON.stringify(m);
  };
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /the manifest must be an object/],
    ['other format', bad((m) => (m.format = 'x')), /format is "x"/],
    ['unknown lifecycle', bad((m) => (m.lifecycle = 'sequencing')), /lifecycle must be one of/],
    ['negative size', bad((m) => ((m.tree as Record<string, unknown>).size = -1)), /tree.size must be a non-negative integer/],
    ['uppercase root', bad((m) => ((m.tree as Record<string, unknown>).root = HEX.toUpperCase())), /tree.root must be 64 lowercase hex/],
    ['head beyond the tree', bad((m) => ((m.publishedHead as Record<string, unknown>).size = 11)), /larger than the tree/],
    ['head source', bad((m) => ((m.publishedHead as Record<string, unknown>).source = 'guess')), /publishedHead.source/],
    ['path in a name', bad((m) => (((m.files as unknown[])[0] as Record<string, unknown>).name = '../../etc/passwd')), /the database file is named log.db/],
    ['unknown role', bad((m) => (((m.files as unknown[])[1] as Record<string, unknown>).role = 'key')), /files\[1\].role/],
    ['no database', bad((m) => (m.files = [(m.files as unknown[])[1]])), /no database file/],
    ['listed twice', bad((m) => (m.files = [(m.files as unknown[])[0], (m.files as unknown[])[0]])), /listed twice/],
    ['bad hash', bad((m) => (((m.files as unknown[])[0] as Record<string, unknown>).sha256 = 'zz')), /files\[0\].sha256/],
    ['no software', bad((m) => (m.software = '')), /software must be a non-empty string/],
  ];
  for (const [name, text, message] of cases) {
    assert.throws(() => parseManifest(text), (err: unknown) => err instanceof ManifestError && message.test((err as Error).message), name);
  }
});

test('locateDifference: names the first changed leaf, or the history rewrite below the verified size', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = Array.from({ length: 300 }, () => new Uint8Array(randomBytes(128)));
  const honest = TreeStore.open(join(dir.path, 'honest.db'));
  t.after(() => honest.close());
  honest.appendPreordered(0, leaves);
  const target = { size: 300, rootHash: honest.rootAt(300) };
  const proof = (a: number, b: number): Promise<Hash[]> => Promise.resolve(honest.consistencyProof(a, b));
  for (const changed of [0, 1, 127, 128, 200, 299]) {
    const forked = leaves.slice();
    forked[changed] = new Uint8Array(randomBytes(128));
    const local = TreeStore.open(join(dir.path, `local-${changed}.db`));
    try {
      local.appendPreordered(0, forked);
      // The local tree holds a changed leaf; the signed head is the honest tree's.
      const fresh = await locateDifference({ verifiedSize: 0, target, localRoot: (n) => local.rootAt(n), proof });
      assert.deepEqual(fresh, { kind: 'leaf', index: changed }, `changed leaf ${changed}, nothing verified`);
      // Verified up to 250 locally: a change below it is a history rewrite (named exactly), above it a bad leaf.
      const verified = await locateDifference({ verifiedSize: 250, target, localRoot: (n) => local.rootAt(n), proof });
      assert.deepEqual(verified, changed < 250 ? { kind: 'history', verifiedSize: 250, index: changed } : { kind: 'leaf', index: changed }, `changed leaf ${changed}, verified 250`);
    } finally {
      local.close();
    }
  }
  // A source that refuses proofs: unknown, never a wrong index.
  const refusing = (): Promise<Hash[]> => Promise.reject(new UpstreamError('GET x: status 400'));
  const local = TreeStore.open(join(dir.path, 'local-refused.db'));
  t.after(() => local.close());
  local.appendPreordered(0, [...leaves.slice(0, 10), new Uint8Array(randomBytes(128)), ...leaves.slice(11)]);
  assert.deepEqual(await locateDifference({ verifiedSize: 0, target, localRoot: (n) => local.rootAt(n), proof: refusing }), { kind: 'unknown', reason: 'GET x: status 400' });
});
