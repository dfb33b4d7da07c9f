// The primary's witness cosigner in-process, against real witnesses over
// HTTP (ours, and misbehaving ones) and a real SQLite file for the sizes it
// remembers. The multi-process tests cover the same paths end to end; these
// pin down timing, logging and the 409 resend precisely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { keyHash } from '../../src/crypto/index.js';
import { signTreeHead, verifyCosignature } from '../../src/formats/checkpoint.js';
import { parsePolicy } from '../../src/formats/policy.js';
import type { SignedTreeHead } from '../../src/formats/tree-head.js';
import { toHex } from '../../src/hex.js';
import { WitnessCosigner } from '../../src/primary/witness-cosigner.js';
import { SqliteCosignedSizes } from '../../src/primary/witness-sizes.js';
import type { Signer } from '../../src/types.js';
import { startWitness, type RunningWitness } from '../../src/witness/run.js';
import { freePort } from '../helpers/node-process.js';
import { makeKey, tempDir } from '../helpers/log-fixture.js';
import { startBadWitness, type BadWitness } from './bad-witnesses.js';
import { capturingLogger, memoryTree, type CapturingLogger, type MemoryTree } from './fixtures.js';

interface Setup {
  dir: string;
  log: Signer;
  tree: MemoryTree;
  db: Database.Database;
  keys: Signer[];
  witnesses: RunningWitness[];
  /** Restarts witness i on its port with the given state file. */
  restart(i: number, stateFile: string): Promise<void>;
  sth(size: number): SignedTreeHead;
  cosigner(policyText: string, timeoutMs?: number, graceMs?: number): { cosigner: WitnessCosigner; log: CapturingLogger };
  hexKey(i: number): string;
}

async function setup(t: import('node:test').TestContext, count: number): Promise<Setup> {
  const dir = tempDir('sigsum-cosigner-');
  t.after(() => dir.remove());
  const log = makeKey(join(dir.path, 'log.key'));
  const tree = memoryTree(100);
  const db = new Database(join(dir.path, 'primary.db'));
  t.after(() => db.close());
  const keys: Signer[] = [];
  const witnesses: RunningWitness[] = [];
  const ports: number[] = [];
  const start = async (i: number, stateFile: string): Promise<RunningWitness> =>
    startWitness(
      { keyFile: join(dir.path, `w${i}.key`), logPubkeyFiles: [join(dir.path, 'log.key.pub')], stateFile, listen: `127.0.0.1:${ports[i]}` },
      capturingLogger(),
    );
  for (let i = 0; i < count; i++) {
    keys.push(makeKey(join(dir.path, `w${i}.key`)));
    ports.push(await freePort());
    witnesses.push(await start(i, join(dir.path, `w${i}.state`)));
  }
  t.after(() => Promise.all(witnesses.map((w) => w.stop())));
  const sizes = new SqliteCosignedSizes(db);
  return {
    dir: dir.path,
    log,
    tree,
    db,
    keys,
    witnesses,
    async restart(i, stateFile) {
      await witnesses[i]!.stop();
      witnesses[i] = await start(i, stateFile);
    },
    sth: (size) => signTreeHead(log, { size, rootHash: tree.root(size) }),
    hexKey: (i) => toHex(keys[i]!.publicKey),
    cosigner(policyText, timeoutMs = 2000, graceMs?: number) {
      const logger = capturingLogger();
      const cosigner = new WitnessCosigner({
        policy: parsePolicy(policyText),
        logPublicKey: log.publicKey,
        logKeyHash: keyHash(log.publicKey),
        consistencyProof: (a, b) => tree.proof(a, b),
        sizes,
        timeoutMs,
        ...(graceMs === undefined ? {} : { graceMs }),
        nowSeconds: () => Math.floor(Date.now() / 1000),
        nowMs: () => Date.now(),
        log: logger,
      });
      return { cosigner, log: logger };
    },
  };
}

function policyFor(s: Setup, quorumLine: string, extra = ''): string {
  const lines = [`log ${toHex(s.log.publicKey)}`];
  s.witnesses.forEach((w, i) => lines.push(`witness w${i + 1} ${s.hexKey(i)} ${w.url}`));
  return `${lines.join('\n')}\n${extra}${quorumLine}\n`;
}

function assertValid(s: Setup, sth: SignedTreeHead, cosigs: NonNullable<Awaited<ReturnType<WitnessCosigner['cosign']>>>, count: number): void {
  assert.equal(cosigs.length, count);
  for (const c of cosigs) {
    const key = s.keys.find((k) => toHex(keyHash(k.publicKey)) === toHex(c.keyHash));
    assert.ok(key !== undefined, 'cosignature by a policy witness');
    assert.ok(verifyCosignature(key.publicKey, keyHash(s.log.publicKey), sth, c));
  }
}

test('cosigner: all witnesses cosign; sizes are remembered across cosigner instances', async (t) => {
  const s = await setup(t, 3);
  const policy = policyFor(s, 'quorum g', 'group g 2 w1 w2 w3\n');
  const { cosigner, log } = s.cosigner(policy);
  const started = Date.now();
  const first = await cosigner.cosign(s.sth(5), s.sth(0));
  assert.ok(first !== undefined);
  assertValid(s, s.sth(5), first, 3);
  const second = await cosigner.cosign(s.sth(9), s.sth(5));
  assert.ok(second !== undefined);
  assertValid(s, s.sth(9), second, 3);
  // Two rounds that waited out the 2 s timeout would take ≥ 4 s.
  assert.ok(Date.now() - started < 3500, 'rounds end as soon as every witness answered');
  const sizes = new SqliteCosignedSizes(s.db);
  for (const k of s.keys) assert.equal(sizes.get(toHex(keyHash(k.publicKey))), 9);
  assert.deepEqual(log.lines.filter((l) => l.startsWith('WARNING')), []);

  // A restarted primary (new cosigner, same database) goes straight on from 9: no 409 round trip.
  const again = s.cosigner(policy);
  const third = await again.cosigner.cosign(s.sth(9), s.sth(9));
  assert.ok(third !== undefined);
  assertValid(s, s.sth(9), third, 3);
  assert.deepEqual(again.log.lines.filter((l) => l.includes('409')), []);
});

test('cosigner: a witness whose state was wiped to an older size recovers in the same round (409, resend)', async (t) => {
  const s = await setup(t, 3);
  const policy = policyFor(s, 'quorum g', 'group g all w1 w2 w3\n');
  const { cosigner, log } = s.cosigner(policy);
  assert.ok(await cosigner.cosign(s.sth(4), s.sth(0)));
  copyFileSync(join(s.dir, 'w0.state'), join(s.dir, 'w0.old-state'));
  assert.ok(await cosigner.cosign(s.sth(20), s.sth(4)));
  // w1 back at size 4; a brand-new w2 state (size 0).
  await s.restart(0, join(s.dir, 'w0.old-state'));
  await s.restart(1, join(s.dir, 'w1.new-state'));
  const result = await cosigner.cosign(s.sth(31), s.sth(20));
  assert.ok(result !== undefined, log.lines.join('\n'));
  assertValid(s, s.sth(31), result, 3);
  assert.ok(log.lines.some((l) => /DEBUG witness w1 .* answered 409: it has cosigned size 4; resending/.test(l)), log.lines.join('\n'));
  assert.ok(log.lines.some((l) => /DEBUG witness w2 .* answered 409: it has cosigned size 0; resending/.test(l)), log.lines.join('\n'));
  assert.deepEqual(log.lines.filter((l) => l.startsWith('WARNING')), []);
});

test('cosigner: quorum not met gives undefined; dead witnesses are reported once, then at debug', async (t) => {
  const s = await setup(t, 3);
  const { cosigner, log } = s.cosigner(policyFor(s, 'quorum g', 'group g 2 w1 w2 w3\n'));
  await s.witnesses[1]!.stop();
  assert.ok(await cosigner.cosign(s.sth(3), s.sth(0)), 'two of three suffice');
  await s.witnesses[2]!.stop();
  assert.equal(await cosigner.cosign(s.sth(6), s.sth(3)), undefined);
  assert.equal(await cosigner.cosign(s.sth(7), s.sth(3)), undefined);
  const warnings = log.lines.filter((l) => l.startsWith('WARNING'));
  assert.equal(warnings.filter((l) => l.includes('witness w2')).length, 1, warnings.join('\n'));
  assert.equal(warnings.filter((l) => l.includes('witness w3')).length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /did not cosign size \d+: .*ECONNREFUSED/);
  assert.equal(log.lines.filter((l) => l.startsWith('DEBUG witness w2')).length, 2);
});

test('cosigner: misbehaving witnesses are ignored and logged with their answer; a hanging one costs at most the timeout', async (t) => {
  const s = await setup(t, 2);
  const bad: BadWitness[] = [];
  t.after(() => Promise.all(bad.map((b) => b.close())));
  const stranger = makeKey(join(s.dir, 'stranger.key'));
  const liar = makeKey(join(s.dir, 'liar.key'));
  const stale = makeKey(join(s.dir, 'stale.key'));
  const wrongKeyPolicyKey = makeKey(join(s.dir, 'wrong-key-policy.key'));
  bad.push(await startBadWitness({ kind: 'wrong-key', expected: wrongKeyPolicyKey.publicKey, actual: stranger }));
  bad.push(await startBadWitness({ kind: 'bad-signature', signer: liar }));
  bad.push(await startBadWitness({ kind: 'stale-timestamp', signer: stale }));
  bad.push(await startBadWitness({ kind: 'garbage' }));
  bad.push(await startBadWitness({ kind: 'hang' }));
  const garbageKey = makeKey(join(s.dir, 'garbage.key'));
  const hangKey = makeKey(join(s.dir, 'hang.key'));
  const extra = [
    `witness wrongkey ${toHex(wrongKeyPolicyKey.publicKey)} ${bad[0]!.url}`,
    `witness badsig ${toHex(liar.publicKey)} ${bad[1]!.url}`,
    `witness stale ${toHex(stale.publicKey)} ${bad[2]!.url}`,
    `witness garbage ${toHex(garbageKey.publicKey)} ${bad[3]!.url}`,
    `witness hang ${toHex(hangKey.publicKey)} ${bad[4]!.url}/`,
    'group g 2 w1 w2 wrongkey badsig stale garbage hang',
  ].join('\n');
  const timeoutMs = 800;
  const { cosigner, log } = s.cosigner(policyFor(s, 'quorum g', extra + '\n'), timeoutMs);

  for (const size of [5, 8]) {
    const started = Date.now();
    const result = await cosigner.cosign(s.sth(size), s.sth(0));
    const took = Date.now() - started;
    assert.ok(took >= timeoutMs - 50 && took < timeoutMs + 1500, `round took ${took} ms: bounded by the timeout`);
    assert.ok(result !== undefined);
    assertValid(s, s.sth(size), result, 2);
  }
  assert.ok(bad.every((b) => b.requests === 2), 'every witness was asked each round');
  const warnings = log.lines.filter((l) => l.startsWith('WARNING'));
  const expect: Array<[string, RegExp]> = [
    ['wrongkey', /no cosignature line by the witness key in the policy: "\u2014 sigsum\.org\/v1\/witness\//],
    ['badsig', /cosignature does not verify/],
    ['stale', /cosignature timestamp \d+ is -86\d{3} s off our clock/],
    ['garbage', /malformed response .*"this is not a cosignature\\n"/],
    ['hang', /timed out/],
  ];
  for (const [name, re] of expect) {
    const mine = warnings.filter((l) => l.includes(`witness ${name} `));
    assert.equal(mine.length, 1, `one warning for ${name} over two rounds:\n${warnings.join('\n')}`);
    assert.match(mine[0]!, re);
  }
});

test('cosigner: once the quorum is met, a black-holed witness costs the grace, not the timeout; without the quorum the round waits for it', async (t) => {
  const s = await setup(t, 2);
  const hang = await startBadWitness({ kind: 'hang' });
  t.after(() => hang.close());
  const hangKey = makeKey(join(s.dir, 'hang.key'));
  const extra = `witness hang ${toHex(hangKey.publicKey)} ${hang.url}\n`;
  // A timeout far beyond the grace: a round that waited it out cannot pass for
  // one cut short, however slow a loaded CI machine is.
  const timeoutMs = 60_000;
  const graceMs = 300;
  const { cosigner, log } = s.cosigner(policyFor(s, 'quorum g', `${extra}group g 2 w1 w2 hang\n`), timeoutMs, graceMs);
  for (const size of [5, 8, 9]) {
    const started = Date.now();
    const result = await cosigner.cosign(s.sth(size), s.sth(0));
    const took = Date.now() - started;
    assert.ok(result !== undefined, 'two of three cosigned');
    assertValid(s, s.sth(size), result, 2);
    assert.ok(took < timeoutMs / 2, `round ${size} took ${took} ms: it must not wait out the ${timeoutMs} ms timeout`);
  }
  assert.equal(hang.requests, 3, 'the black-holed witness is still asked every round');
  const warnings = log.lines.filter((l) => l.startsWith('WARNING') && l.includes('witness hang'));
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /no answer within 300 ms after the quorum was met/);

  // When the quorum needs the silent witness, the round waits for it (up to the timeout) and fails.
  const all = s.cosigner(policyFor(s, 'quorum g', `${extra}group g all w1 w2 hang\n`), 1500, graceMs);
  const started = Date.now();
  // Garbage collections while it waits: the witness's timeout must still fire
  // (an AbortSignal.timeout held only weakly, as by AbortSignal.any in Node 20,
  // is collected and never fires).
  const churn = setInterval(() => gc(), 100);
  t.after(() => clearInterval(churn));
  let stuck: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    all.cosigner.cosign(s.sth(10), s.sth(9)).then((r) => ({ r })),
    new Promise<'stuck'>((r) => (stuck = setTimeout(() => r('stuck'), 30_000))),
  ]);
  clearTimeout(stuck);
  clearInterval(churn);
  assert.notEqual(outcome, 'stuck', 'the round ended by the witness timeout despite garbage collections');
  assert.equal((outcome as { r: unknown }).r, undefined, 'quorum not met');
  assert.ok(Date.now() - started >= 1400, 'without the quorum there is nothing to cut short');
});

/** V8's gc(), without --expose-gc on the command line. */
function gc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}
