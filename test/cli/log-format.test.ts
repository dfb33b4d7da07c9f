// log-format from real node processes: json writes one object per line
// (time, level, node, msg, and fields such as size and secondary), text the
// readable lines; a bad value is refused at start naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeKey, preparePrimary, startNodeProcess, tempDir } from '../helpers/log-fixture.js';
import { freePort, runCli, spawnCli, waitUntil } from '../helpers/node-process.js';
import { makeLeaf, submitUntilPublished } from '../helpers/submitter.js';

interface JsonLine {
  time: string;
  level: string;
  node: string;
  msg: string;
  [field: string]: unknown;
}

function parseJsonLines(text: string): JsonLine[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const o = JSON.parse(l) as JsonLine;
      assert.ok(!Number.isNaN(Date.parse(o.time)) && o.time.endsWith('Z'), `time is an ISO timestamp: ${l}`);
      assert.ok(['debug', 'info', 'warning', 'error'].includes(o.level), `level: ${l}`);
      assert.equal(typeof o.msg, 'string', l);
      return o;
    });
}

test('log-format=json: a primary writes one JSON object per line, with fields', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const logFile = join(dir.path, 'primary.log');
  // One secondary that never answers: the replication gate logs it with a `secondary` field.
  makeKey(join(dir.path, 'absent.key'));
  const absentUrl = `http://127.0.0.1:${await freePort()}`;
  const setup = await preparePrimary(dir.path, {
    interval: '300ms',
    top: { 'log-format': 'json', 'log-file': logFile, timeout: '500ms' },
    secondaries: [{ url: absentUrl, pubkeyFile: join(dir.path, 'absent.key.pub') }],
  });
  const primary = spawnCli(['--role', 'primary', '--config', setup.config], { name: 'primary' });
  t.after(() => primary.kill9());
  const read = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  await waitUntil('the primary to listen', () => (/public API on http/.test(read()) ? true : undefined));
  await waitUntil('the gate to report the absent secondary', () => (/counts as size 0/.test(read()) ? true : undefined));
  assert.equal(await primary.stop(), 0, primary.output);
  assert.equal(primary.output, '', 'nothing on stderr: every line went to the log file');

  const lines = parseJsonLines(read());
  assert.ok(lines.every((l) => l.node === 'primary'), 'node names the role');
  const start = lines.find((l) => l.msg.includes('; log key hash '));
  assert.ok(start !== undefined);
  assert.equal(start.size, 0, 'the published size as a number');
  assert.equal(start.local_size, 0);
  const gate = lines.find((l) => /counts as size 0/.test(l.msg));
  assert.ok(gate !== undefined);
  assert.equal(gate.level, 'warning');
  assert.equal(gate.secondary, absentUrl);
  assert.equal(gate.size, 0);
});

test('log-format=text (the default): readable lines with time, level and role', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path, { interval: '200ms' });
  const primary = await startNodeProcess('primary', setup);
  t.after(() => primary.kill9());
  await submitUntilPublished(setup.publicUrl, [makeLeaf(makeKey(join(dir.path, 'submitter.key')))], 20_000);
  assert.equal(await primary.stop(), 0, primary.output);
  const lines = primary.output.split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 3);
  for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) \[primary\] \S/);
  assert.ok(!lines.some((l) => l.includes('{"')), 'no JSON in text format');
});

test('log-format: a value other than text or json is refused at start, naming the key', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const setup = await preparePrimary(dir.path, { top: { 'log-format': 'xml' } });
  const { code, output } = await runCli(['--role', 'primary', '--config', setup.config]);
  assert.equal(code, 2, output);
  assert.match(output, /log-format must be text or json, got "xml"/);
  assert.equal(output.split('\n').filter((l) => l !== '').length, 1, 'one line, no stack');
});

test('sigsum-log witness --log-format json: one object per line, node "witness"; a bad value is refused', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  makeKey(join(dir.path, 'witness.key'));
  makeKey(join(dir.path, 'log.key'));
  const args = ['witness', '--key-file', join(dir.path, 'witness.key'), '--log-pubkey-file', join(dir.path, 'log.key.pub'), '--state', join(dir.path, 'state.json')];
  const witness = spawnCli([...args, '--log-format', 'json'], { name: 'witness' });
  t.after(() => witness.kill9());
  await witness.waitForOutput(/witness listening on http/);
  assert.equal(await witness.stop(), 0);
  const lines = parseJsonLines(witness.output);
  assert.ok(lines.length >= 2);
  assert.ok(lines.every((l) => l.node === 'witness'));

  const { code, output } = await runCli([...args, '--log-format', 'yaml']);
  assert.equal(code, 2, output);
  assert.match(output, /--log-format must be text or json, got "yaml"/);
});

test('log-file that cannot be written: lines go to stderr, the node keeps running, and the file is used again when it can be', async (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const logDir = join(dir.path, 'logs');
  mkdirSync(logDir);
  const logFile = join(logDir, 'primary.log');
  const setup = await preparePrimary(dir.path, { interval: '200ms', top: { 'log-file': logFile, 'log-level': 'debug' } });
  const primary = spawnCli(['--role', 'primary', '--config', setup.config], { name: 'primary' });
  t.after(() => primary.kill9());
  await waitUntil('the primary to listen', () => (existsSync(logFile) && /public API on http/.test(readFileSync(logFile, 'utf8')) ? true : undefined));
  rmSync(logDir, { recursive: true }); // every append now fails (ENOENT)
  const submitter = makeKey(join(dir.path, 'submitter.key'));
  await submitUntilPublished(setup.publicUrl, [makeLeaf(submitter)], 20_000); // logs at debug level
  await primary.waitForOutput(/cannot write to log file .*primary\.log \(ENOENT\): writing log lines to stderr/);
  await primary.waitForOutput(/DEBUG \[primary\] published tree head/);
  assert.ok(primary.running);
  mkdirSync(logDir); // writable again
  await submitUntilPublished(setup.publicUrl, [makeLeaf(submitter)], 20_000); // more lines
  await primary.waitForOutput(/writing log lines to .*primary\.log again/);
  assert.equal(await primary.stop(), 0, primary.output);
  assert.match(readFileSync(logFile, 'utf8'), /shut down in \d+ ms/);
});
