import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { ForbiddenError, UnavailableError, type LogError } from '../../src/errors.js';
import { toHex } from '../../src/hex.js';
import {
  concurrencyLimitedResolver,
  createDnsResolver,
  createTokenVerifier,
  VERDICT_TTL_MS,
  type TxtResolver,
  createTxtResolver,
  submitTokenMessage,
  type TokenVerifier,
} from '../../src/ratelimit/index.js';
import type { PublicKey, Signer } from '../../src/types.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

const T = { timeout: 10_000 };

const logKey = signerFromSeed(generateSeed());
const otherLogKey = signerFromSeed(generateSeed());
const submitter = signerFromSeed(generateSeed());
const stranger = signerFromSeed(generateSeed());
const keyHex = (s: Signer) => toHex(s.publicKey);
const header = (domain: string, signer: Signer, log: PublicKey = logKey.publicKey) =>
  `${domain} ${toHex(signer.sign(submitTokenMessage(log)))}`;

let dns: TestDnsServer;
let verifier: TokenVerifier;

before(async () => {
  dns = await startDnsServer({
    '_sigsum_v1.good.example': [keyHex(submitter)],
    '_sigsum_v1.wrong.example': [keyHex(stranger)],
    '_sigsum_v1.multi.example': ['not a key', keyHex(stranger), keyHex(submitter), keyHex(otherLogKey)],
    '_sigsum_v1.split.example': [[keyHex(submitter).slice(0, 20), keyHex(submitter).slice(20)]],
    '_sigsum_v1.many.example': [...Array.from({ length: 10 }, () => keyHex(stranger)), keyHex(submitter)],
    '_sigsum_v1.xn--bcher-kva.example': [keyHex(submitter)],
    '_sigsum_v0.old.example': [keyHex(submitter)],
    '_sigsum_v1.empty.example': [],
  });
  dns.servfail.add('_sigsum_v1.broken.example');
  verifier = createTokenVerifier({
    logPublicKey: logKey.publicKey,
    resolver: createDnsResolver({ server: dns.address, timeoutMs: 2000 }),
  });
});
after(() => dns.close());

async function rejects(p: Promise<unknown>, cls: new (m: string) => LogError, status: number, message: string | RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal(e.status, status);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('a valid token yields the normalized domain', T, async () => {
  assert.equal(await verifier.verify(header('good.example', submitter)), 'good.example');
  assert.equal(await verifier.verify(header('GOOD.Example', submitter)), 'good.example');
  assert.ok(dns.queries.includes('_sigsum_v1.good.example'));
});

test('a token made for another log key is refused', T, async () => {
  await rejects(
    verifier.verify(header('good.example', submitter, otherLogKey.publicKey)),
    ForbiddenError,
    403,
    'sigsum-token for good.example does not verify with any key at _sigsum_v1.good.example (1 key(s) tried, 0 malformed record(s), 0 ignored beyond 10)',
  );
});

test('an unknown domain is refused', T, async () => {
  await rejects(verifier.verify(header('unknown.example', submitter)), ForbiddenError, 403, 'sigsum-token: no TXT record at _sigsum_v1.unknown.example');
  // sigsum-go's fallback name was tried before giving up.
  assert.ok(dns.queries.includes('_sigsum_v0.unknown.example'));
});

test('a name with no TXT records is refused', T, async () => {
  await rejects(verifier.verify(header('empty.example', submitter)), ForbiddenError, 403, 'sigsum-token: no TXT record at _sigsum_v1.empty.example');
});

test('a record holding a different key is refused', T, async () => {
  await rejects(
    verifier.verify(header('wrong.example', submitter)),
    ForbiddenError,
    403,
    'sigsum-token for wrong.example does not verify with any key at _sigsum_v1.wrong.example (1 key(s) tried, 0 malformed record(s), 0 ignored beyond 10)',
  );
});

test('with several records, one matching key suffices', T, async () => {
  assert.equal(await verifier.verify(header('multi.example', submitter)), 'multi.example');
  await rejects(
    verifier.verify(header('multi.example', logKey)),
    ForbiddenError,
    403,
    'sigsum-token for multi.example does not verify with any key at _sigsum_v1.multi.example (3 key(s) tried, 1 malformed record(s), 0 ignored beyond 10)',
  );
});

test('a record split into several character-strings is joined', T, async () => {
  assert.equal(await verifier.verify(header('split.example', submitter)), 'split.example');
});

test('only the first 10 records are tried', T, async () => {
  await rejects(
    verifier.verify(header('many.example', submitter)),
    ForbiddenError,
    403,
    'sigsum-token for many.example does not verify with any key at _sigsum_v1.many.example (10 key(s) tried, 0 malformed record(s), 1 ignored beyond 10)',
  );
});

test('an IDN domain is looked up by its A-label and charged by its U-label', T, async () => {
  assert.equal(await verifier.verify(header('bücher.example', submitter)), 'bücher.example');
  assert.equal(await verifier.verify(header('xn--bcher-kva.example', submitter)), 'bücher.example');
});

test('the _sigsum_v0 name is used when _sigsum_v1 does not exist', T, async () => {
  assert.equal(await verifier.verify(header('old.example', submitter)), 'old.example');
});

test('a DNS server failure is 503, not a verdict on the token', T, async () => {
  await rejects(verifier.verify(header('broken.example', submitter)), UnavailableError, 503, /^DNS lookup of _sigsum_v1\.broken\.example failed: /);
});

test('the production resolver caches answers for their TTL', T, async () => {
  let now = 1_000_000;
  const cached = createTokenVerifier({
    logPublicKey: logKey.publicKey,
    resolver: createTxtResolver({ server: dns.address, timeoutMs: 2000, now: () => now }),
    now: () => now,
  });
  const name = '_sigsum_v1.rotating.example';
  const asked = () => dns.queries.filter((q) => q === name).length;
  dns.records.set(name, [keyHex(submitter)]);
  assert.equal(await cached.verify(header('rotating.example', submitter)), 'rotating.example');
  assert.equal(asked(), 1);

  // The key is rotated in DNS; the cached record still serves until the TTL ends.
  dns.records.set(name, [keyHex(stranger)]);
  assert.equal(await cached.verify(header('rotating.example', submitter)), 'rotating.example');
  assert.equal(asked(), 1);

  now += 5 * 60 * 1000 + 1;
  await rejects(cached.verify(header('rotating.example', submitter)), ForbiddenError, 403, /does not verify/);
  assert.equal(asked(), 2);
  assert.equal(await cached.verify(header('rotating.example', stranger)), 'rotating.example');
  assert.equal(asked(), 2);
});

test('verdicts are cached per token for a short time; concurrent requests with one token share one check; checks go through the given verifier', T, async () => {
  let now = 5_000_000;
  const checked: string[] = [];
  let lookups = 0;
  const inner = createDnsResolver({ server: dns.address, timeoutMs: 2000 });
  const resolver: TxtResolver = { lookupTxt: (name) => (lookups++, inner.lookupTxt(name)) };
  const v = createTokenVerifier({
    logPublicKey: logKey.publicKey,
    resolver,
    now: () => now,
    verify: async (key, message, signature) => {
      checked.push(toHex(key));
      const { ed25519Verify } = await import('../../src/crypto/index.js');
      return ed25519Verify(key, message, signature);
    },
  });
  const good = header('multi.example', submitter);
  assert.deepEqual(await Promise.all([v.verify(good), v.verify(good), v.verify(good)]), ['multi.example', 'multi.example', 'multi.example']);
  assert.equal(lookups, 1, 'one lookup for three concurrent requests');
  assert.equal(checked.length, 3, 'the three keys of one record set, checked once, through the given verifier');
  assert.equal(await v.verify(good), 'multi.example');
  assert.equal(lookups, 1, 'the verdict is reused');
  const bad = header('wrong.example', submitter);
  await rejects(v.verify(bad), ForbiddenError, 403, /does not verify/);
  await rejects(v.verify(bad), ForbiddenError, 403, /does not verify/);
  assert.equal(lookups, 2, 'a refusal is a verdict too');
  now += VERDICT_TTL_MS + 1;
  assert.equal(await v.verify(good), 'multi.example');
  assert.equal(lookups, 3, 'checked again once the verdict expired');
  // "Could not tell" is not kept.
  await rejects(v.verify(header('broken.example', submitter)), UnavailableError, 503, /DNS lookup/);
  await rejects(v.verify(header('broken.example', submitter)), UnavailableError, 503, /DNS lookup/);
  assert.equal(lookups, 5);
});

test('DNS lookups in progress are bounded: beyond the bound a token is 503 at once', T, async () => {
  const hanging: Array<() => void> = [];
  const slow: TxtResolver = {
    lookupTxt: () => new Promise((resolve) => hanging.push(() => resolve({ found: true, records: [keyHex(submitter)] }))),
  };
  const v = createTokenVerifier({ logPublicKey: logKey.publicKey, resolver: concurrencyLimitedResolver(slow, 2) });
  const first = [v.verify(header('a.example', submitter)), v.verify(header('b.example', submitter))];
  await rejects(v.verify(header('c.example', submitter)), UnavailableError, 503, /2 DNS lookups are in progress already/);
  assert.equal(hanging.length, 2, 'the third lookup was never started');
  hanging.forEach((h) => h());
  assert.deepEqual(await Promise.all(first), ['a.example', 'b.example']);
  // Room again.
  const again = v.verify(header('c.example', submitter));
  hanging[2]!();
  assert.equal(await again, 'c.example');
});
