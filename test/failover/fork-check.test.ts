// The old primary's startup fork check against a configured secondary that
// was promoted meanwhile: it no longer has a signed head of its own (404),
// but it serves a tree head signed with the log's key that the old primary
// does not hold, and that alone refuses startup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { ConfigError } from '../../src/errors.js';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { checkNotForked, type GateSecondary } from '../../src/primary/replication-gate.js';
import { InternalApiClient } from '../../src/internal-api/client.js';
import { tempDir } from '../helpers/log-fixture.js';
import { captureLog, randomLeaves, serveInternal, treeSource, treeWith } from '../replication/fixture.js';

test('fork check: a secondary that now serves a log-signed head the old primary lacks refuses its startup', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const logKey = signerFromSeed(generateSeed());
  const leaves = randomLeaves(120);
  const oldPrimary = treeWith(join(dir.path, 'old.db'), leaves.slice(0, 100));
  t.after(() => oldPrimary.close());
  const promoted = treeWith(join(dir.path, 'promoted.db'), [...leaves.slice(0, 90), ...randomLeaves(40)]);
  t.after(() => promoted.close());

  let published: CosignedTreeHead = { ...signTreeHead(logKey, { size: 130, rootHash: promoted.rootAt(130) }), cosignatures: [] };
  // Served like a primary's internal API: the read side, no get-tree-head-to-cosign.
  const server = await serveInternal(treeSource(promoted, () => published));
  t.after(() => server.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}`, timeoutMs: 1_000 });
  t.after(() => client.close());
  const secondary: GateSecondary = { name: client.baseUrl, publicKey: signerFromSeed(generateSeed()).publicKey, source: client };

  const log = captureLog();
  await checkNotForked([secondary], oldPrimary, log);
  assert.match(log.lines.join('\n'), /cannot ask secondary .*starting anyway/, 'without the log key, nothing proves a fork');

  await assert.rejects(checkNotForked([secondary], oldPrimary, captureLog(), logKey.publicKey), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /serves a tree head signed with this log's key that holds 130 leaves but this node's tree has only 100/);
    return true;
  });

  // Same size range, other leaves: a different root is a fork too.
  published = { ...signTreeHead(logKey, { size: 95, rootHash: promoted.rootAt(95) }), cosignatures: [] };
  await assert.rejects(checkNotForked([secondary], oldPrimary, captureLog(), logKey.publicKey), /that has root [0-9a-f]{64} at size 95/);

  // A head this primary published itself (a prefix) is fine; so is one signed by another key.
  published = { ...signTreeHead(logKey, { size: 90, rootHash: oldPrimary.rootAt(90) }), cosignatures: [] };
  await checkNotForked([secondary], oldPrimary, captureLog(), logKey.publicKey);
  published = { ...signTreeHead(signerFromSeed(generateSeed()), { size: 130, rootHash: promoted.rootAt(130) }), cosignatures: [] };
  await checkNotForked([secondary], oldPrimary, captureLog(), logKey.publicKey);
});
