// The promotion and truncation checks as pure functions, over a real tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import { peerRefusal, publishedHeadRefusal, truncationRefusal, type LocalTree } from '../../src/failover/checks.js';
import { emptyRoot } from '../../src/tree/hash.js';
import { tempDir } from '../helpers/log-fixture.js';
import { randomLeaves, treeWith } from '../replication/fixture.js';

test('published head check: signed by the log key, not beyond the local tree, same root at its size', (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = randomLeaves(60);
  const store = treeWith(join(dir.path, 'local.db'), leaves.slice(0, 50));
  t.after(() => store.close());
  const longer = treeWith(join(dir.path, 'longer.db'), leaves);
  t.after(() => longer.close());
  const other = treeWith(join(dir.path, 'other.db'), randomLeaves(50));
  t.after(() => other.close());
  const local: LocalTree = { size: 50, rootAt: (n) => store.rootAt(n) };
  const log = signerFromSeed(generateSeed());
  const head = (size: number, rootHash = store.rootAt(size)) => signTreeHead(log, { size, rootHash });

  assert.equal(publishedHeadRefusal('s', head(50), log.publicKey, local), undefined);
  assert.equal(publishedHeadRefusal('s', head(17), log.publicKey, local), undefined, 'an older head is a prefix');
  assert.equal(publishedHeadRefusal('s', signTreeHead(log, { size: 0, rootHash: emptyRoot() }), log.publicKey, local), undefined);
  assert.match(publishedHeadRefusal('s', head(40), signerFromSeed(generateSeed()).publicKey, local)?.problem ?? '', /not signed by the log key/);
  assert.match(
    publishedHeadRefusal('s', signTreeHead(log, { size: 60, rootHash: longer.rootAt(60) }), log.publicKey, local)?.problem ?? '',
    /size 60, but this node holds only 50 leaves: .*\[50, 60\)/,
  );
  assert.match(publishedHeadRefusal('s', head(30, other.rootAt(30)), log.publicKey, local)?.problem ?? '', /would fork the log/);
});

test('peer check: not larger, and the same root at its size', (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const store = treeWith(join(dir.path, 'local.db'), randomLeaves(20));
  t.after(() => store.close());
  const local: LocalTree = { size: 20, rootAt: (n) => store.rootAt(n) };
  assert.equal(peerRefusal('http://peer', { size: 20, rootHash: store.rootAt(20) }, local), undefined);
  assert.equal(peerRefusal('http://peer', { size: 0, rootHash: emptyRoot() }, local), undefined);
  assert.match(peerRefusal('http://peer', { size: 21, rootHash: store.rootAt(20) }, local)?.remedy ?? '', /^promote http:\/\/peer instead/);
  assert.match(peerRefusal('http://peer', { size: 10, rootHash: store.rootAt(9) }, local)?.problem ?? '', /disagree/);
});

test('truncation check: within the tree, never below the verified published head, and only with one', () => {
  assert.equal(truncationRefusal(30, 40, 30), undefined);
  assert.equal(truncationRefusal(40, 40, 30), undefined);
  assert.match(truncationRefusal(29, 40, 30)?.problem ?? '', /below the newest published tree head/);
  assert.match(truncationRefusal(41, 40, 30)?.problem ?? '', /beyond the local tree/);
  assert.match(truncationRefusal(10, 40, undefined)?.remedy ?? '', /rebuild it instead/);
});
