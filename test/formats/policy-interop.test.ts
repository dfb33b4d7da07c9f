// Policy key encodings against the real sigsum-verify (Debian sigsum-go):
// for each way of writing the log and witness keys, the tool and we must
// agree on whether the policy parses (and on which line it fails), and on
// whether the fixture proof then verifies under it. The non-hex forms are
// made by the real sigsum-key from the fixture keys, so they are exactly
// what an operator would paste.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { formatOpenSshPublicKey } from '../../src/crypto/keyfile.js';
import { parsePolicy, PolicyError } from '../../src/formats/policy.js';
import { parseSigsumProof } from '../../src/formats/proof.js';
import { verifySigsumProof } from '../../src/formats/verify-proof.js';
import { fromHex } from '../../src/hex.js';
import { asPublicKey } from '../../src/types.js';
import { runTool, sigsumTools, type ToolResult } from '../helpers/sigsum-tools.js';
import {
  FILE_CONTENTS,
  FILE_MESSAGE_HEX,
  LOG_PUBLIC_KEY_HEX,
  PROOF_SIZE_1,
  submitSigner,
  WITNESS_PUBLIC_KEY_HEX,
} from './fixtures.js';

/** What became of a policy: it did not parse (at this line), or the proof did or did not verify under it. */
type Outcome = { parsed: false; line: number } | { parsed: true; verified: boolean };

function ok(r: ToolResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/** sigsum-verify prints `failed to parse policy file "<file>": <line>: <reason>` for a policy it rejects. */
function toolOutcome(r: ToolResult): Outcome {
  if (r.code === 0) return { parsed: true, verified: true };
  const m = /failed to parse policy file "[^"]*": (\d+):/.exec(r.stderr);
  if (m) return { parsed: false, line: Number(m[1]) };
  assert.match(r.stderr, /Sigsum proof failed to verify/, `unexpected sigsum-verify failure: ${r.stderr}`);
  return { parsed: true, verified: false };
}

function ourOutcome(text: string): Outcome {
  let policy;
  try {
    policy = parsePolicy(text);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    const m = /^(\d+): /.exec(e.message);
    assert.ok(m, `our error names no line: ${e.message}`);
    return { parsed: false, line: Number(m[1]) };
  }
  try {
    verifySigsumProof(parseSigsumProof(PROOF_SIZE_1), fromHex(FILE_MESSAGE_HEX), [submitSigner.publicKey], policy);
    return { parsed: true, verified: true };
  } catch {
    return { parsed: true, verified: false };
  }
}

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-interop-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('interop: sigsum-verify and parsePolicy agree on every key encoding', async (t) => {
  const bin = sigsumTools(t);
  if (!bin) return;
  const dir = tempDir(t);
  const file = (name: string, text: string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const submitterPub = file('submitter.pub', formatOpenSshPublicKey(submitSigner.publicKey));
  const proof = file('proof', PROOF_SIZE_1);

  // The other encodings, as the real sigsum-key writes them.
  const ssh = async (hex: string) => ok(await runTool(bin, 'sigsum-key', ['from-hex'], { input: `${hex}\n` }), 'sigsum-key from-hex');
  const logSsh = await ssh(LOG_PUBLIC_KEY_HEX);
  const witnessSsh = await ssh(WITNESS_PUBLIC_KEY_HEX);
  const logPub = file('log.pub', `${logSsh}\n`);
  const witnessPub = file('witness.pub', `${witnessSsh}\n`);
  const vkey = async (args: string[]) => ok(await runTool(bin, 'sigsum-key', ['to-vkey', ...args]), 'sigsum-key to-vkey');
  const logVkey = await vkey(['-k', logPub]);
  const witnessVkey = await vkey(['-k', witnessPub, '-n', 'example.org/w', '-t', 'cosignature/v1']);
  const witnessVkeyEd25519 = await vkey(['-k', witnessPub, '-n', 'example.org/w']);
  // Our OpenSSH writer and the tool's agree, so the forms below are the ones both sides know.
  assert.equal(formatOpenSshPublicKey(asPublicKey(fromHex(LOG_PUBLIC_KEY_HEX))).trim(), logSsh.split(' ').slice(0, 2).join(' '));

  const otherHex = '42'.repeat(32);
  const verified: Outcome = { parsed: true, verified: true };
  const rejectedAt = (line: number): Outcome => ({ parsed: false, line });
  // [what, log field (line 1), witness field (line 2), what both must make of it]
  const cases: Array<[string, string, string, Outcome]> = [
    ['lowercase hex', LOG_PUBLIC_KEY_HEX, WITNESS_PUBLIC_KEY_HEX, verified],
    ['uppercase hex', LOG_PUBLIC_KEY_HEX.toUpperCase(), WITNESS_PUBLIC_KEY_HEX.toUpperCase(), verified],
    ['mixed-case hex', LOG_PUBLIC_KEY_HEX.slice(0, 32).toUpperCase() + LOG_PUBLIC_KEY_HEX.slice(32), WITNESS_PUBLIC_KEY_HEX, verified],
    // Keys are really read: another witness key parses, but its quorum is not met.
    ['hex of another witness', LOG_PUBLIC_KEY_HEX, otherHex, { parsed: true, verified: false }],
    ['an OpenSSH log line', logSsh, WITNESS_PUBLIC_KEY_HEX, rejectedAt(1)],
    ['an OpenSSH witness line', LOG_PUBLIC_KEY_HEX, witnessSsh, rejectedAt(2)],
    ['an OpenSSH log key without comment', logSsh.split(' ').slice(0, 2).join(' '), WITNESS_PUBLIC_KEY_HEX, rejectedAt(1)],
    ['a bare OpenSSH base64 blob', logSsh.split(' ')[1]!, WITNESS_PUBLIC_KEY_HEX, rejectedAt(1)],
    ['a log vkey', logVkey, WITNESS_PUBLIC_KEY_HEX, rejectedAt(1)],
    ['a cosignature/v1 witness vkey', LOG_PUBLIC_KEY_HEX, witnessVkey, rejectedAt(2)],
    ['an ed25519 witness vkey', LOG_PUBLIC_KEY_HEX, witnessVkeyEd25519, rejectedAt(2)],
    ['raw base64 of the log key', Buffer.from(fromHex(LOG_PUBLIC_KEY_HEX)).toString('base64'), WITNESS_PUBLIC_KEY_HEX, rejectedAt(1)],
    ['a 0x prefix', `0x${LOG_PUBLIC_KEY_HEX}`, WITNESS_PUBLIC_KEY_HEX, rejectedAt(1)],
    ['a witness key one byte long', LOG_PUBLIC_KEY_HEX, `${WITNESS_PUBLIC_KEY_HEX}00`, rejectedAt(2)],
  ];
  for (const [what, logField, witnessField, want] of cases) {
    const text = `log ${logField}\nwitness W1 ${witnessField}\ngroup G 1 W1\nquorum G\n`;
    const policy = file('policy', text);
    const tool = toolOutcome(
      await runTool(bin, 'sigsum-verify', ['-k', submitterPub, '-p', policy, proof], { input: FILE_CONTENTS }),
    );
    assert.deepEqual(tool, want, `${what}: sigsum-verify on\n${text}`);
    assert.deepEqual(ourOutcome(text), tool, `${what}: we differ from sigsum-verify on\n${text}`);
  }
});
