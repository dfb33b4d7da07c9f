// The primary's replication gate and its startup fork check, against real
// in-process secondaries' internal APIs (each serving a signed head) and a
// real SQLite tree as the primary's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { ConfigError } from '../../src/errors.js';
import { signTreeHead } from '../../src/formats/checkpoint.js';
import type { TreeHead } from '../../src/formats/tree-head.js';
import { checkNotForked, SecondaryGate, type GateSecondary } from '../../src/primary/replication-gate.js';
import { InternalApiClient } from '../../src/internal-api/client.js';
import { asHash, type Signer } from '../../src/types.js';
import { tempDir } from '../helpers/log-fixture.js';
import { freePort } from '../helpers/node-process.js';
import { captureLog, randomLeaves, serveInternal, treeSource, treeWith } from './fixture.js';
import type { TreeStore } from '../../src/tree/store.js';

interface FakeSecondary {
  gate: GateSecondary;
  /** What it claims; signed with `signWith` on every request. */
  head: TreeHead;
  signWith: Signer;
}

async function fakeSecondary(t: { after(fn: () => unknown): void }, tree: TreeStore, head: TreeHead, name: string): Promise<FakeSecondary> {
  const signer = signerFromSeed(generateSeed());
  const fake: FakeSecondary = { gate: undefined as unknown as GateSecondary, head, signWith: signer };
  const server = await serveInternal(treeSource(tree), { cosign: { treeHeadToCosign: () => signTreeHead(fake.signWith, fake.head) } });
  t.after(() => server.close());
  const client = new InternalApiClient({ baseUrl: `http://${server.address}`, timeoutMs: 1_000 });
  t.after(() => client.close());
  fake.gate = { name, publicKey: signer.publicKey, source: client };
  return fake;
}

/** A TCP server that accepts connections and never answers. */
async function silentServer(t: { after(fn: () => unknown): void }): Promise<number> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((s) => void sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as import('node:net').AddressInfo).port;
}

test('gate: allowed size is the minimum of local size and every verified secondary size', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const tree = treeWith(join(dir.path, 'primary.db'), randomLeaves(1_000));
  t.after(() => tree.close());
  const a = await fakeSecondary(t, tree, { size: 700, rootHash: tree.rootAt(700) }, 'A');
  const b = await fakeSecondary(t, tree, { size: 900, rootHash: tree.rootAt(900) }, 'B');
  const log = captureLog();
  const gate = new SecondaryGate([a.gate, b.gate], tree, log);
  assert.equal(await gate.allowedSize(1_000), 700);
  assert.equal(await gate.allowedSize(600), 600, 'never more than the local size asked about');
  a.head = { size: 1_000, rootHash: tree.rootAt(1_000) };
  assert.equal(await gate.allowedSize(1_000), 900);
  assert.deepEqual(log.lines, []);
});

test('gate: bad signature, ahead, inconsistent, unreachable and slow secondaries count as 0, with the reason logged once', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const tree = treeWith(join(dir.path, 'primary.db'), randomLeaves(500));
  t.after(() => tree.close());
  const good = await fakeSecondary(t, tree, { size: 500, rootHash: tree.rootAt(500) }, 'good');
  const cases: Array<{ setup: () => Promise<GateSecondary>; reason: RegExp }> = [
    {
      setup: async () => {
        const s = await fakeSecondary(t, tree, { size: 400, rootHash: tree.rootAt(400) }, 'wrong-key');
        s.signWith = signerFromSeed(generateSeed());
        return s.gate;
      },
      reason: /secondary wrong-key counts as size 0: its tree head \(size 400\) is not signed by the key in its secondary-pubkey-file/,
    },
    {
      setup: async () => (await fakeSecondary(t, tree, { size: 501, rootHash: asHash(new Uint8Array(32)) }, 'ahead')).gate,
      reason: /secondary ahead counts as size 0: it is ahead of this primary: size 501 > local size 500/,
    },
    {
      setup: async () => (await fakeSecondary(t, tree, { size: 300, rootHash: tree.rootAt(299) }, 'forked')).gate,
      reason: /secondary forked counts as size 0: its root at size 300 is [0-9a-f]{64} but this primary's is [0-9a-f]{64} \(inconsistent\)/,
    },
    {
      setup: async () => {
        const client = new InternalApiClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1_000 });
        t.after(() => client.close());
        return { name: 'down', publicKey: good.gate.publicKey, source: client };
      },
      reason: /WARNING secondary down counts as size 0: unreachable or failing: .*ECONNREFUSED/,
    },
    {
      setup: async () => {
        const client = new InternalApiClient({ baseUrl: `http://127.0.0.1:${await silentServer(t)}`, timeoutMs: 300 });
        t.after(() => client.close());
        return { name: 'slow', publicKey: good.gate.publicKey, source: client };
      },
      reason: /secondary slow counts as size 0: unreachable or failing: .*timed out after 300 ms/,
    },
  ];
  for (const c of cases) {
    const bad = await c.setup();
    const log = captureLog();
    const gate = new SecondaryGate([good.gate, bad], tree, log);
    const started = Date.now();
    for (let i = 0; i < 3; i++) assert.equal(await gate.allowedSize(500), 0, `${bad.name}: size 0`);
    assert.ok(Date.now() - started < 3 * 1_500, `${bad.name}: bounded by the timeout`);
    assert.equal(log.lines.length, 1, `${bad.name}: logged once, not every rotation:\n${log.lines.join('\n')}`);
    assert.match(log.lines[0] as string, c.reason);
  }
});

test('gate: a secondary that recovers counts again, and that is logged', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const tree = treeWith(join(dir.path, 'primary.db'), randomLeaves(100));
  t.after(() => tree.close());
  const s = await fakeSecondary(t, tree, { size: 100, rootHash: tree.rootAt(99) }, 'S');
  const log = captureLog();
  const gate = new SecondaryGate([s.gate], tree, log);
  assert.equal(await gate.allowedSize(100), 0);
  s.head = { size: 100, rootHash: tree.rootAt(100) };
  assert.equal(await gate.allowedSize(100), 100);
  assert.match(log.lines.join('\n'), /INFO secondary S counts again: replicated size 100/);
});

test('fork check: a secondary holding a longer or different tree refuses startup; unreachable or unsigned ones do not', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const leaves = randomLeaves(200);
  const tree = treeWith(join(dir.path, 'primary.db'), leaves.slice(0, 150));
  t.after(() => tree.close());
  const longer = treeWith(join(dir.path, 'other.db'), leaves);
  t.after(() => longer.close());

  const ok = await fakeSecondary(t, tree, { size: 150, rootHash: tree.rootAt(150) }, 'ok');
  await checkNotForked([ok.gate], tree, captureLog());

  const ahead = await fakeSecondary(t, tree, { size: 200, rootHash: longer.rootAt(200) }, 'http://ahead');
  await assert.rejects(checkNotForked([ok.gate, ahead.gate], tree, captureLog()), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /secondary http:\/\/ahead holds 200 leaves but this node's tree has only 150/);
    assert.match(err.message, /Someone else sequenced/);
    assert.match(err.message, /Retire this node, or re-seed it as a secondary/);
    return true;
  });

  const different = await fakeSecondary(t, tree, { size: 120, rootHash: tree.rootAt(119) }, 'http://different');
  await assert.rejects(checkNotForked([different.gate], tree, captureLog()), /secondary http:\/\/different has root [0-9a-f]{64} at size 120/);

  const down = new InternalApiClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 500 });
  t.after(() => down.close());
  const log = captureLog();
  await checkNotForked([{ name: 'down', publicKey: ok.gate.publicKey, source: down }], tree, log);
  assert.match(log.lines.join('\n'), /WARNING cannot ask secondary down .*starting anyway/);

  const unsigned = await fakeSecondary(t, tree, { size: 200, rootHash: longer.rootAt(200) }, 'imposter');
  unsigned.signWith = signerFromSeed(generateSeed());
  await checkNotForked([unsigned.gate], tree, captureLog());
});
