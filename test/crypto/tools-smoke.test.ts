// Proves the sigsum-go test helper works: the tools are found and run, and
// runTool's timeout really ends a child that would otherwise hang.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { keyHash, publicKeyFromSeed } from '../../src/crypto/index.js';
import { readPrivateKeyFile, readPublicKeyFile } from '../../src/crypto/keyfile.js';
import { toHex } from '../../src/hex.js';
import { generateSeed } from '../../src/crypto/index.js';
import { writeKeyPair } from '../../src/crypto/keyfile.js';
import { findOnPath, runTool, sigsumTools, startTool } from '../helpers/sigsum-tools.js';
import { freePort } from '../helpers/node-process.js';

test('sigsum-key generate, to-hex, to-hash and our readers agree', async (t) => {
  const bin = sigsumTools(t);
  if (!bin) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tools-smoke-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'k');

  const gen = await runTool(bin, 'sigsum-key', ['generate', '-o', file]);
  assert.equal(gen.code, 0, gen.stderr);
  assert.equal(gen.timedOut, false);

  const pubLine = fs.readFileSync(`${file}.pub`, 'utf8');
  const hex = await runTool(bin, 'sigsum-key', ['to-hex'], { input: pubLine });
  assert.equal(hex.code, 0, hex.stderr);
  assert.match(hex.stdout, /^[0-9a-f]{64}\n$/);
  const hash = await runTool(bin, 'sigsum-key', ['to-hash', '-k', `${file}.pub`]);
  assert.equal(hash.code, 0, hash.stderr);

  const pub = readPublicKeyFile(`${file}.pub`);
  assert.equal(toHex(pub), hex.stdout.trim());
  assert.equal(toHex(keyHash(pub)), hash.stdout.trim());
  assert.deepEqual(publicKeyFromSeed(readPrivateKeyFile(file)), pub);
});

test('runTool reports a failing tool with its exit code and stderr', async (t) => {
  const bin = sigsumTools(t);
  if (!bin) return;
  const r = await runTool(bin, 'sigsum-key', ['to-hex'], { input: 'not a key\n' });
  assert.notEqual(r.code, 0);
  assert.notEqual(r.stderr, '');
  assert.equal(r.stdout, '');
});

test('runTool kills a child that outlives its timeout', async (t) => {
  const sleep = findOnPath('sleep');
  if (!sleep) return t.skip('no sleep(1) on PATH');
  const started = Date.now();
  const r = await runTool('', sleep, ['30'], { timeoutMs: 200 });
  assert.equal(r.timedOut, true);
  assert.equal(r.code, null);
  assert.match(r.stderr, /killed .* after 200 ms/);
  assert.ok(Date.now() - started < 5000, 'returned promptly');
});

test('runTool rejects when the program does not exist', async () => {
  await assert.rejects(runTool(os.tmpdir(), 'no-such-tool-here', []), /cannot run/);
});

test('startTool runs sigsum-witness, which routes add-checkpoint (GODEBUG fix)', async (t) => {
  const bin = sigsumTools(t);
  if (!bin) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tools-smoke-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeKeyPair(path.join(dir, 'witness'), generateSeed());
  writeKeyPair(path.join(dir, 'log'), generateSeed());
  const port = await freePort();
  const witness = startTool(bin, 'sigsum-witness', [
    '-k', path.join(dir, 'witness'),
    '--log-key', path.join(dir, 'log.pub'),
    '--state-file', path.join(dir, 'state'),
    '--url-prefix', 'w',
    `127.0.0.1:${port}`,
  ]);
  t.after(() => witness.stop());

  // It prints nothing when ready, so poll (bounded) until it answers.
  let status = 0;
  let body = '';
  for (let i = 0; i < 50 && status === 0; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/w/add-checkpoint`, { method: 'POST', body: 'garbage\n' });
      status = res.status;
      body = await res.text();
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // 400 means the request reached the add-checkpoint handler; the broken mux gives 404.
  assert.equal(status, 400, `status ${status}: ${body} ${witness.output().stderr}`);
  assert.match(body, /invalid old line/);
  const result = await witness.stop();
  assert.equal(result.timedOut, false, 'sigsum-witness stops on SIGTERM');
});
