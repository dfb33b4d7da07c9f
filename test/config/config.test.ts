import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MAX_RATE_MIB } from '../../src/backup/pace.js';
import { flagName, loadConfig, SETTINGS } from '../../src/config/config.js';
import { parseDuration } from '../../src/config/duration.js';
import { ConfigError } from '../../src/errors.js';
import { runCli } from '../helpers/node-process.js';
import { tempDir } from '../helpers/log-fixture.js';

test('durations use Go syntax', () => {
  const good: Array<[string, number]> = [['10s', 10_000], ['250ms', 250], ['1m30s', 90_000], ['1.5h', 5_400_000], ['0', 0], ['500us', 0.5], ['2m', 120_000]];
  for (const [text, ms] of good) assert.equal(parseDuration(text), ms, text);
  for (const bad of ['', '10', 's', '-1s', '1d', '10 s', '1s ']) assert.throws(() => parseDuration(bad), /duration/, bad);
});

function withConfig(text: string): { file: string; remove(): void } {
  const dir = tempDir();
  const file = join(dir.path, 'config.toml');
  writeFileSync(file, text);
  return { file, remove: dir.remove };
}

const MINIMAL = 'key-file = "k"\ndb-file = "d.db"\n[primary]\nsth-file = "sth"\n';

test('config: log-go example keys load; Trillian keys are ignored with a warning; relative paths resolve to the file', () => {
  const c = withConfig(
    [
      'external-endpoint = "localhost:6965"',
      'internal-endpoint = "localhost:6967"',
      'trillian-rpc-server = "localhost:6962"',
      'url-prefix = ""',
      'backend = "trillian"',
      'timeout = "10s"',
      'key-file = "/etc/sigsum/key"',
      'db-file = "log.db"',
      'interval = "10s"',
      'log-file = ""',
      'log-level = "info"',
      '[primary]',
      'policy-file = ""',
      'max-range = 10',
      'rate-limit-file = ""',
      'allow-test-domain = false',
      'secondary-url = "http://127.0.0.1:7000"',
      'secondary-pubkey-file = "sec.pub"',
      'sth-file = "/var/lib/sigsum-log/sth"',
      '[secondary]',
      'primary-url = ""',
      '',
    ].join('\n'),
  );
  try {
    const config = loadConfig({ role: 'primary', configFile: c.file, flags: {} });
    assert.equal(config.primary.maxRange, 10);
    assert.deepEqual(config.primary.secondaryUrls, ['http://127.0.0.1:7000']);
    assert.equal(config.primary.secondaryPubkeyFiles.length, 1);
    assert.ok(config.primary.secondaryPubkeyFiles[0]!.endsWith('/sec.pub') && config.primary.secondaryPubkeyFiles[0]!.startsWith('/'));
    assert.ok(config.dbFile.startsWith('/') && config.dbFile.endsWith('/log.db'));
    assert.equal(config.keyFile, '/etc/sigsum/key');
    assert.equal(config.timeoutMs, 10_000);
    assert.equal(config.primary.idleIntervalMs, 10_000, 'idle-interval defaults to interval');
    assert.equal(config.warnings.length, 2);
    assert.match(config.warnings.join('\n'), /trillian-rpc-server/);
  } finally {
    c.remove();
  }
});

test('config: defaults, flags override the file, arrays of secondaries', () => {
  const c = withConfig(MINIMAL + 'secondary-url = ["http://a", "http://b"]\nsecondary-pubkey-file = ["a.pub", "b.pub"]\n');
  try {
    const config = loadConfig({ role: 'primary', configFile: c.file, flags: { interval: '2s', 'max-range': '7', 'allow-test-domain': 'true' } });
    assert.equal(config.intervalMs, 2000);
    assert.equal(config.primary.maxRange, 7);
    assert.equal(config.primary.allowTestDomain, true);
    assert.deepEqual(config.primary.secondaryUrls, ['http://a', 'http://b']);
    assert.equal(config.externalEndpoint, 'localhost:6965');
    assert.equal(config.internalEndpoint, 'localhost:6967');
    assert.deepEqual(config.http, { headersTimeoutMs: 5000, requestTimeoutMs: 10_000, maxConnections: 2048, maxPipelinedRequests: 16 });
    assert.equal(config.primary.maxVerifications, 1024);
    assert.equal(config.primary.maxVerificationsPerClient, 128);
    assert.equal(config.primary.witnessGraceMs, 2000);
    assert.equal(config.backup.maxRateMib, DEFAULT_MAX_RATE_MIB, 'backups are paced unless told otherwise');
    const secondary = withConfig('key-file = "k"\ndb-file = "d"\n[secondary]\nprimary-url = "http://p"\n');
    try {
      assert.equal(loadConfig({ role: 'secondary', configFile: secondary.file, flags: {} }).intervalMs, 1000, 'secondary polls every 1s by default');
    } finally {
      secondary.remove();
    }
  } finally {
    c.remove();
  }
});

test('config: errors name the key', () => {
  const cases: Array<[string, RegExp]> = [
    [MINIMAL + 'sth-flie = "x"\n', /unknown key "primary.sth-flie"/],
    ['colour = "blue"\n' + MINIMAL, /unknown key "colour"/],
    [MINIMAL.replace('[primary]', 'interval = "10"\n[primary]'), /"interval": invalid duration "10"/],
    [MINIMAL + 'max-range = "many"\n', /"primary.max-range" must be an integer/],
    [MINIMAL + 'allow-test-domain = "yes"\n', /"primary.allow-test-domain" must be true or false/],
    [MINIMAL + 'secondary-url = ["http://a"]\n', /secondary-url has 1 entries but secondary-pubkey-file has 0/],
    [MINIMAL.replace('sth-file = "sth"', ''), /sth-file is not set/],
    [MINIMAL + 'max-range = 0\n', /"primary.max-range" must be at least 1, got 0/],
    ['key-file = "k"\ndb-file = "d"\nlog-level = "loud"\n[primary]\nsth-file = "s"\n', /log-level must be/],
    ['key-file = \n', /config file/],
    [MINIMAL.replace('[primary]', 'headers-timeout = "20s"\n[primary]'), /headers-timeout \(20000ms\) must not exceed request-timeout \(10000ms\)/],
    [MINIMAL.replace('[primary]', 'request-timeout = "0s"\n[primary]'), /"request-timeout" must be positive/],
    [MINIMAL.replace('[primary]', 'max-connections = 0\n[primary]'), /"max-connections" must be at least 1/],
    [MINIMAL.replace('[primary]', 'max-pipelined-requests = 0\n[primary]'), /"max-pipelined-requests" must be at least 1/],
    [MINIMAL + 'max-verifications = 0\n', /"primary.max-verifications" must be at least 1/],
    [MINIMAL + 'max-verifications = 10\nmax-verifications-per-client = 11\n', /max-verifications-per-client must be from 1 to max-verifications \(10\)/],
  ];
  for (const [text, message] of cases) {
    const c = withConfig(text);
    try {
      assert.throws(() => loadConfig({ role: 'primary', configFile: c.file, flags: {} }), (err: unknown) => err instanceof ConfigError && message.test(err.message), String(message));
    } finally {
      c.remove();
    }
  }
  assert.throws(() => loadConfig({ role: 'primary', configFile: '/nonexistent/config.toml', flags: {} }), /cannot read config file \/nonexistent/);
});

test('config: $SIGSUM_LOGSERVER_CONFIG is used when --config is absent', () => {
  const c = withConfig(MINIMAL + 'max-range = 3\n');
  try {
    const config = loadConfig({ role: 'primary', configFile: undefined, flags: {}, env: { SIGSUM_LOGSERVER_CONFIG: c.file } });
    assert.equal(config.primary.maxRange, 3);
  } finally {
    c.remove();
  }
});

test('cli: --help documents every config key; a bad config exits 2 with the message', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const s of SETTINGS) assert.ok(help.output.includes(`--${flagName(s)}`), `--help mentions --${flagName(s)}`);
  const c = withConfig(MINIMAL + 'nonsense = 1\n');
  try {
    const r = await runCli(['--role', 'primary', '--config', c.file]);
    assert.equal(r.code, 2);
    assert.match(r.output, /unknown key "primary.nonsense"/);
  } finally {
    c.remove();
  }
});

test('cli: values out of range are refused at start naming the key: exit 2 and a message, never a RangeError or a timer that fires at once', async () => {
  const top = (line: string): string => line + '\n' + MINIMAL;
  const primary = (line: string): string => MINIMAL + line + '\n';
  const cases: Array<{ name: string; text: string; flags?: string[]; role?: 'primary' | 'secondary'; message: RegExp }> = [
    { name: 'timeout above what timers accept', text: top('timeout = "2147483648ms"'), message: /"timeout" must be at most 10m, got "2147483648ms"/ },
    { name: 'timeout of a month', text: top('timeout = "720h"'), message: /"timeout" must be at most 10m, got "720h"/ },
    { name: 'timeout zero', text: top('timeout = "0"'), message: /"timeout" must be positive, got "0"/ },
    { name: 'fractional milliseconds', text: top('timeout = "1.5ms"'), message: /"timeout" must be a whole number of milliseconds, got "1.5ms"/ },
    { name: 'microseconds', text: primary('batch-interval = "500us"'), message: /"primary.batch-interval" must be a whole number of milliseconds/ },
    { name: 'interval of days', text: top('interval = "72h"'), message: /"interval" must be at most 1h, got "72h"/ },
    { name: 'interval zero', text: top('interval = "0"'), message: /"interval" must be positive/ },
    { name: 'secondary interval of days', role: 'secondary', text: 'key-file = "k"\ndb-file = "d"\ninterval = "48h"\n[secondary]\nprimary-url = "http://127.0.0.1:1"\n', message: /"interval" must be at most 1h, got "48h"/ },
    { name: 'idle-interval of days', text: primary('idle-interval = "72h"'), message: /"primary.idle-interval" must be at most 24h, got "72h"/ },
    { name: 'batch-interval of hours', text: primary('batch-interval = "2h"'), message: /"primary.batch-interval" must be at most 1m, got "2h"/ },
    { name: 'max-range zero', text: primary('max-range = 0'), message: /"primary.max-range" must be at least 1, got 0/ },
    { name: 'max-range negative', text: primary('max-range = -5'), message: /"primary.max-range" must be at least 1, got -5/ },
    { name: 'max-range huge', text: primary('max-range = 1000000000'), message: /"primary.max-range" must be at most 65536, got 1000000000/ },
    { name: 'batch-size zero', text: primary('batch-size = 0'), message: /"primary.batch-size" must be at least 1, got 0/ },
    { name: 'max-pending negative', text: primary('max-pending = -1'), message: /"primary.max-pending" must be at least 1, got -1/ },
    { name: 'flag interval of days', text: MINIMAL, flags: ['--interval', '100h'], message: /flag --interval: "interval" must be at most 1h, got "100h"/ },
    { name: 'flag max-range negative', text: MINIMAL, flags: ['--max-range', '-3'], message: /flag --max-range: "primary.max-range" must be at least 1, got -3/ },
    { name: 'backup max-rate negative', text: MINIMAL + '[backup]\nmax-rate = -1\n', message: /"backup.max-rate" must be zero or more, got -1/ },
    { name: 'backup max-rate huge', text: MINIMAL + '[backup]\nmax-rate = 1000000\n', message: /"backup.max-rate" must be at most 100000, got 1000000/ },
    { name: 'backup max-rate fractional', text: MINIMAL + '[backup]\nmax-rate = 1.5\n', message: /"backup.max-rate" must be an integer, got 1.5/ },
    { name: 'backup max-rate with a unit', text: MINIMAL + '[backup]\nmax-rate = "16MiB"\n', message: /"backup.max-rate" must be an integer, got "16MiB"/ },
    { name: 'flag backup-max-rate negative', text: MINIMAL, flags: ['--backup-max-rate', '-2'], message: /flag --backup-max-rate: "backup.max-rate" must be zero or more, got -2/ },
  ];
  for (const c of cases) {
    const file = withConfig(c.text);
    try {
      const r = await runCli(['--role', c.role ?? 'primary', '--config', file.file, ...(c.flags ?? [])], 20_000);
      assert.equal(r.code, 2, `${c.name}: ${r.output}`);
      assert.match(r.output, c.message, c.name);
      assert.doesNotMatch(r.output, /RangeError|TimeoutOverflowWarning|\n\s+at /, `${c.name}: a message, not a stack`);
    } finally {
      file.remove();
    }
  }
});
