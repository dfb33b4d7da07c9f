// Interoperability with sigsum-go's sigsum-token tool, in both directions:
// its tokens and TXT records pass our verifier, and our token message
// passes its verifier. Skipped visibly when the tools are not installed,
// unless SIGSUM_INTEROP=required.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { ForbiddenError } from '../../src/errors.js';
import { fromHex, toHex } from '../../src/hex.js';
import { createDnsResolver, createTokenVerifier, submitTokenMessage } from '../../src/ratelimit/index.js';
import { asPrivateKeySeed, asPublicKey } from '../../src/types.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { sigsumTools } from '../helpers/sigsum-tools.js';

const T = { timeout: 30_000 };

/** The sigsum-key and sigsum-token paths, or undefined after sigsumTools skipped (or failed) the test. */
function tools(t: TestContext): { KEY_BIN: string; TOKEN_BIN: string } | undefined {
  const bin = sigsumTools(t);
  return bin === undefined ? undefined : { KEY_BIN: join(bin, 'sigsum-key'), TOKEN_BIN: join(bin, 'sigsum-token') };
}

function run(bin: string, args: string[], input?: string): string {
  return execFileSync(bin, args, { encoding: 'utf8', timeout: 10_000, input: input ?? '' });
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigsum-interop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a token and TXT record made by sigsum-token verify here', T, async (t) => {
  const bins = tools(t);
  if (bins === undefined) return;
  const { KEY_BIN, TOKEN_BIN } = bins;
  const dir = tempDir(t);
  run(KEY_BIN, ['generate', '-o', join(dir, 'log.key')]);
  run(KEY_BIN, ['generate', '-o', join(dir, 'rl.key')]);
  const logPublicKey = asPublicKey(fromHex(run(KEY_BIN, ['to-hex', '-k', join(dir, 'log.key.pub')]).trim()));

  const record = run(TOKEN_BIN, ['record', '-k', join(dir, 'rl.key.pub')]);
  const m = /^_sigsum_v1 IN TXT "([0-9a-f]{64})"\n$/.exec(record);
  assert.ok(m, `unexpected record output ${JSON.stringify(record)}`);

  const headerLine = run(TOKEN_BIN, ['create', '-k', join(dir, 'rl.key'), '--log-key', join(dir, 'log.key.pub'), '-d', 'interop.example']);
  const h = /^sigsum-token: (.*)\n$/i.exec(headerLine);
  assert.ok(h, `unexpected header output ${JSON.stringify(headerLine)}`);

  const dns = await startDnsServer({ '_sigsum_v1.interop.example': [m[1]!] });
  t.after(() => dns.close());
  const resolver = createDnsResolver({ server: dns.address, timeoutMs: 2000 });

  const verifier = createTokenVerifier({ logPublicKey, resolver });
  assert.equal(await verifier.verify(h[1]!), 'interop.example');

  // The same token is worthless to a different log.
  const otherLog = createTokenVerifier({ logPublicKey: signerFromSeed(generateSeed()).publicKey, resolver });
  await assert.rejects(otherLog.verify(h[1]!), ForbiddenError);
});

test('a token made here verifies with sigsum-token', T, (t) => {
  const bins = tools(t);
  if (bins === undefined) return;
  const { KEY_BIN, TOKEN_BIN } = bins;
  const dir = tempDir(t);
  const logKey = signerFromSeed(generateSeed());
  const rateLimitKey = signerFromSeed(generateSeed());
  writeFileSync(join(dir, 'log.hex'), toHex(logKey.publicKey));
  writeFileSync(join(dir, 'rl.hex'), toHex(rateLimitKey.publicKey));
  run(KEY_BIN, ['from-hex', '-k', join(dir, 'log.hex'), '-o', join(dir, 'log.pub')]);
  run(KEY_BIN, ['from-hex', '-k', join(dir, 'rl.hex'), '-o', join(dir, 'rl.pub')]);

  const token = toHex(rateLimitKey.sign(submitTokenMessage(logKey.publicKey)));
  run(TOKEN_BIN, ['verify', '-k', join(dir, 'rl.pub'), '--log-key', join(dir, 'log.pub')], `${token}\n`);

  // And it must fail for a token bound to another log, or the check above proves nothing.
  const wrong = toHex(rateLimitKey.sign(submitTokenMessage(signerFromSeed(generateSeed()).publicKey)));
  assert.throws(() => run(TOKEN_BIN, ['verify', '-q', '-k', join(dir, 'rl.pub'), '--log-key', join(dir, 'log.pub')], `${wrong}\n`), {
    status: 1,
  });
});

test("log-go's published test-domain key pair matches our Ed25519 key derivation", () => {
  // From log-go doc/rate-limit.md: private key 00..01, public key 4cb5ab...ba29.
  const seed = asPrivateKeySeed(fromHex('00'.repeat(31) + '01'));
  assert.equal(toHex(signerFromSeed(seed).publicKey), '4cb5abf6ad79fbf5abbccafcc269d85cd2651ed4b885b5869f241aedf0a5ba29');
});
