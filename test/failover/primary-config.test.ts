// The promoted node's primary config: derived from the secondary's, loadable
// as a primary's, deterministic, and independent of where it is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { defaultPrimaryConfigPath, defaultSthPath, primaryConfigText } from '../../src/failover/primary-config.js';
import { tempDir } from '../helpers/log-fixture.js';

test('primary config: same node settings, the log key, absolute paths, [primary] kept unless flags give secondaries', (t) => {
  const dir = tempDir();
  t.after(() => dir.remove());
  const secondaryConfig = join(dir.path, 'q1.toml');
  const text = [
    'external-endpoint = "10.0.0.2:6965"',
    'internal-endpoint = "10.0.0.2:6967"',
    'key-file = "q1.key"',
    'db-file = "data/q1.db"',
    'internal-token-file = "token"',
    'interval = "30s"',
    '',
    '[primary]',
    'policy-file = "policy"',
    'secondary-url = ["http://10.0.0.3:6967"]',
    'secondary-pubkey-file = ["q2.pub"]',
    '',
    '[secondary]',
    'primary-url = "http://10.0.0.1:6967"',
    'log-pubkey-file = "log.pub"',
    '',
  ].join('\n');
  const plan = { secondaryConfigPath: secondaryConfig, secondaryConfigText: text, logKeyFile: '/keys/log.key', sthFile: join(dir.path, 'data', 'q1.sth') };

  const kept = primaryConfigText({ ...plan, secondaries: [] });
  assert.equal(kept, primaryConfigText({ ...plan, secondaries: [] }), 'deterministic');
  const elsewhere = join(dir.path, 'elsewhere.toml');
  writeFileSync(elsewhere, kept);
  const config = loadConfig({ role: 'primary', configFile: elsewhere, flags: {} });
  assert.equal(config.keyFile, '/keys/log.key');
  assert.equal(config.dbFile, join(dir.path, 'data', 'q1.db'), 'relative to the secondary config, wherever the new file is');
  assert.equal(config.internalTokenFile, join(dir.path, 'token'));
  assert.equal(config.externalEndpoint, '10.0.0.2:6965');
  assert.equal(config.intervalMs, 30_000);
  assert.equal(config.primary.sthFile, join(dir.path, 'data', 'q1.sth'));
  assert.equal(config.primary.policyFile, join(dir.path, 'policy'));
  assert.deepEqual(config.primary.secondaryUrls, ['http://10.0.0.3:6967'], 'prepared secondaries kept');
  assert.deepEqual(config.primary.secondaryPubkeyFiles, [join(dir.path, 'q2.pub')]);
  assert.doesNotMatch(kept, /\[secondary\]|primary-url|log-pubkey-file/);

  writeFileSync(elsewhere, primaryConfigText({ ...plan, secondaries: [{ url: 'http://10.0.0.4:6967', pubkeyFile: '/keys/q3.pub' }] }));
  const flagged = loadConfig({ role: 'primary', configFile: elsewhere, flags: {} });
  assert.deepEqual(flagged.primary.secondaryUrls, ['http://10.0.0.4:6967']);
  assert.deepEqual(flagged.primary.secondaryPubkeyFiles, ['/keys/q3.pub']);
});

test('default paths: the config next to the old one, the sth file next to the database', () => {
  assert.equal(defaultPrimaryConfigPath('/etc/sigsum/secondary.toml'), '/etc/sigsum/secondary-primary.toml');
  assert.equal(defaultPrimaryConfigPath('/etc/sigsum/config'), '/etc/sigsum/config-primary.toml');
  assert.equal(defaultSthPath('/var/lib/sigsum-log/log.db'), '/var/lib/sigsum-log/log.sth');
  assert.equal(defaultSthPath('/var/lib/sigsum-log/db'), '/var/lib/sigsum-log/db.sth');
});
