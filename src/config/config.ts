// Node configuration: log-go's TOML keys (drop-in for its operators), with
// Trillian's keys replaced by `db-file`, plus this server's own keys. One table
// (SETTINGS) drives the TOML loader, the command-line flags and --help, so the
// three can never disagree.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigError } from '../errors.js';
import { formatDuration, parseDuration } from './duration.js';
import type { HttpLimits } from '../http/serve.js';
import { DEFAULT_MAX_RATE_MIB, MAX_RATE_MIB_LIMIT } from '../backup/pace.js';

export type Role = 'primary' | 'secondary';
type Section = '' | 'primary' | 'secondary' | 'backup';
type Kind = 'string' | 'path' | 'bool' | 'int' | 'duration' | 'path-list' | 'string-list';
type Value = string | boolean | number | string[];

/** Bounds of an int (a count) or a duration (milliseconds), both inclusive. */
interface Limits {
  readonly min?: number;
  readonly max?: number;
}

interface Setting {
  readonly section: Section;
  readonly key: string;
  readonly kind: Kind;
  /** undefined: depends on the role, see roleDefault. */
  readonly fallback: Value | undefined;
  readonly help: string;
  readonly limits?: Limits;
}

const S = (section: Section, key: string, kind: Kind, fallback: Value | undefined, help: string, limits?: Limits): Setting => ({
  section,
  key,
  kind,
  fallback,
  help,
  ...(limits === undefined ? {} : { limits }),
});

/**
 * The longest delay Node's timers take (2^31-1 ms, about 24.8 days): a
 * longer one fires at once, with a warning. Every duration stays below it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const SETTINGS: readonly Setting[] = [
  S('', 'external-endpoint', 'string', 'localhost:6965', 'host:port where the public Sigsum API is served'),
  S('', 'internal-endpoint', 'string', 'localhost:6967', 'host:port of the node-to-node API (keep it off the public internet)'),
  S('', 'url-prefix', 'string', '', 'prefix that precedes /<endpoint> on both listeners'),
  S('', 'timeout', 'duration', 10_000, 'timeout for outgoing requests (secondaries, witnesses, primary)', { min: 1, max: 10 * MINUTE }),
  S('', 'interval', 'duration', undefined, 'primary: tree head rotation interval (default 10s); secondary: poll interval (default 1s)', { min: 1, max: HOUR }),
  S('', 'key-file', 'path', '', "this node's Ed25519 key: an unencrypted OpenSSH private key file (mode 0600), or a public key file whose key the ssh-agent at $SSH_AUTH_SOCK holds"),
  S('', 'db-file', 'path', '', 'SQLite database holding the tree (replaces Trillian)'),
  S('', 'log-file', 'path', '', 'file to append log lines to (default: stderr)'),
  S('', 'log-level', 'string', 'info', 'debug, info, warning or error'),
  S('', 'log-format', 'string', 'text', 'text (one readable line per event) or json (one object per line, for log shippers)'),
  S('', 'tiles-dir', 'path', '', 'directory to export the tlog-tiles of each published head into, for a static web server (empty: no export)'),
  S('', 'internal-token-file', 'path', '', 'file holding a shared bearer token required on every internal API request'),
  S('', 'headers-timeout', 'duration', 5_000, 'both listeners: a client must send a request head within this time, or the connection is closed', { min: 1, max: 10 * MINUTE }),
  S('', 'request-timeout', 'duration', 10_000, 'both listeners: a client must send a whole request (head and body) within this time (at least headers-timeout)', { min: 1, max: HOUR }),
  S('', 'max-connections', 'int', 2048, 'both listeners, each: open connections beyond this are closed at once', { min: 1, max: 1_000_000 }),
  S('', 'max-pipelined-requests', 'int', 16, 'both listeners: requests one connection may have in progress at once; beyond it 503 with Retry-After', { min: 1, max: 1024 }),
  S('primary', 'policy-file', 'path', '', 'Sigsum policy naming the witnesses to collect cosignatures from, and the quorum'),
  S('primary', 'rate-limit-file', 'path', '', 'rate-limit configuration (log-go format); empty: no limits'),
  S('primary', 'allow-test-domain', 'bool', false, 'accept submit tokens for test.sigsum.org'),
  S('primary', 'sth-file', 'path', '', 'file holding the latest signed tree head (replaced atomically)'),
  S('primary', 'max-range', 'int', 512, 'maximum number of leaves returned by one get-leaves request', { min: 1, max: 65_536 }),
  S('primary', 'secondary-url', 'string-list', [], "secondaries' internal base URLs (a string, or an array)"),
  S('primary', 'secondary-pubkey-file', 'path-list', [], "secondaries' public key files, in the order of secondary-url"),
  S('primary', 'batch-size', 'int', 1000, 'sequence pending leaves as soon as this many are waiting', { min: 1, max: 1_000_000 }),
  S('primary', 'batch-interval', 'duration', 50, 'sequence pending leaves at least this often', { min: 1, max: MINUTE }),
  S('primary', 'max-pending', 'int', 100_000, 'pending-pool limit; add-leaf answers 503 with Retry-After beyond it', { min: 1, max: 10_000_000 }),
  S('primary', 'idle-interval', 'duration', undefined, 'how often to refresh cosignatures while the tree does not grow (default: interval)', { min: 1, max: 24 * HOUR }),
  S('primary', 'max-verifications', 'int', 1024, 'add-leaf: signature checks in progress at once, all clients; beyond it 503 with Retry-After', { min: 1, max: 1_000_000 }),
  S('primary', 'max-verifications-per-client', 'int', 128, 'add-leaf: signature checks in progress at once for one client address (IPv6: one /64); beyond it 503', { min: 1, max: 1_000_000 }),
  S('primary', 'witness-grace', 'duration', 2_000, 'once the witness quorum is met, how long to wait for the other witnesses (at most timeout)', { min: 0, max: 10 * MINUTE }),
  S('primary', 'dns-resolver', 'string', '', 'IP[:port] of the DNS server for submit-token lookups (default: the system resolver)'),
  S('secondary', 'primary-url', 'string', '', "the primary's internal base URL (or another secondary's, for cascading replication)"),
  S('secondary', 'log-pubkey-file', 'path', '', "the log's public key, to verify the published tree heads this node keeps (and serves, as a read replica)"),
  S('secondary', 'serve-reads', 'bool', true, 'with log-pubkey-file: serve the public read endpoints and tiles for the verified published head (a read replica)'),
  S('secondary', 'read-max-range', 'int', 512, 'read replica: maximum number of leaves returned by one public get-leaves request', { min: 1, max: 65_536 }),
  S('secondary', 'read-policy-file', 'path', '', "read replica: Sigsum policy whose witness keys give the checkpoint's cosignature lines"),
  S('backup', 'dir', 'path', '', 'directory for periodic online backups of the running node (empty: none)'),
  S('backup', 'interval', 'duration', 24 * HOUR, 'time between periodic backups (the first is taken at start)', { min: 1000, max: 30 * 24 * HOUR }),
  S('backup', 'keep', 'int', 7, 'finished periodic backups kept (the newest)', { min: 1, max: 10_000 }),
  S('backup', 'max-rate', 'int', DEFAULT_MAX_RATE_MIB, "MiB/s: rate limit of a backup's database copy and, separately, of its SHA-256, so add-leaf keeps its throughput (0: no limit); also the default of backup --max-rate", { min: 0, max: MAX_RATE_MIB_LIMIT }),
];

// Keys log-go knows that have no meaning here; accepted so a log-go config
// loads, with a warning.
const IGNORED_LOG_GO_KEYS = new Set(['trillian-rpc-server', 'backend', 'trillian-tree-id-file']);

export interface PrimaryConfig {
  policyFile: string;
  rateLimitFile: string;
  allowTestDomain: boolean;
  sthFile: string;
  /** 1 ≤ maxRange */
  maxRange: number;
  secondaryUrls: string[];
  secondaryPubkeyFiles: string[];
  /** 1 ≤ batchSize */
  batchSize: number;
  batchIntervalMs: number;
  /** 1 ≤ maxPending */
  maxPending: number;
  idleIntervalMs: number;
  dnsResolver: string;
  /** 1 ≤ maxVerificationsPerClient ≤ maxVerifications */
  maxVerifications: number;
  maxVerificationsPerClient: number;
  /** 0 ≤ witnessGraceMs */
  witnessGraceMs: number;
}


export interface SecondaryConfig {
  primaryUrl: string;
  logPubkeyFile: string;
  serveReads: boolean;
  /** 1 ≤ maxRange */
  maxRange: number;
  policyFile: string;
}

export interface BackupConfig {
  /** '' = no periodic backups. */
  dir: string;
  /** ≥ 1000 */
  intervalMs: number;
  /** ≥ 1 */
  keep: number;
  /** MiB/s, 0 = no limit. */
  maxRateMib: number;
}

export interface Config {
  role: Role;
  externalEndpoint: string;
  internalEndpoint: string;
  urlPrefix: string;
  timeoutMs: number;
  intervalMs: number;
  keyFile: string;
  dbFile: string;
  logFile: string;
  logLevel: 'debug' | 'info' | 'warning' | 'error';
  logFormat: 'text' | 'json';
  internalTokenFile: string;
  /** '' = no static tile export. */
  tilesDir: string;
  http: HttpLimits;
  primary: PrimaryConfig;
  secondary: SecondaryConfig;
  backup: BackupConfig;
  /** Messages about accepted-but-ignored keys, for the log once it is open. */
  warnings: string[];
}

/**
 * The command-line flag of a setting (without "--"): its key, except in
 * [backup], whose keys repeat top-level ones (`interval`) and are prefixed.
 */
export function flagName(s: Setting): string {
  return s.section === 'backup' ? `backup-${s.key}` : s.key;
}

export function settingId(s: Setting): string {
  return s.section === '' ? s.key : `${s.section}.${s.key}`;
}

function coerce(s: Setting, raw: unknown, where: string, baseDir: string): Value {
  const fail = (want: string): never => {
    throw new ConfigError(`${where}: "${settingId(s)}" must be ${want}, got ${JSON.stringify(raw)}`);
  };
  const path = (p: string): string => (p === '' || isAbsolute(p) ? p : resolve(baseDir, p));
  switch (s.kind) {
    case 'string':
      return typeof raw === 'string' ? raw : fail('a string');
    case 'path':
      return typeof raw === 'string' ? path(raw) : fail('a string (file path)');
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      return fail('true or false');
    case 'int': {
      const n = typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return fail('an integer');
      return inLimits(s, n, String(n), where);
    }
    case 'duration': {
      if (typeof raw !== 'string') return fail('a duration string such as "10s"');
      let ms: number;
      try {
        ms = parseDuration(raw);
      } catch (err) {
        throw new ConfigError(`${where}: "${settingId(s)}": ${(err as Error).message}`);
      }
      // Timers and sockets take whole milliseconds; a fraction would be rounded somewhere unseen.
      if (!Number.isInteger(ms)) fail('a whole number of milliseconds');
      return inLimits(s, ms, JSON.stringify(raw), where);
    }
    case 'string-list':
    case 'path-list': {
      const list = typeof raw === 'string' ? (raw === '' ? [] : [raw]) : raw;
      if (!Array.isArray(list) || !list.every((x): x is string => typeof x === 'string')) {
        return fail('a string or an array of strings');
      }
      return s.kind === 'path-list' ? list.map(path) : list;
    }
  }
}

/** The value, or a ConfigError naming the key and the bound it breaks. */
function inLimits(s: Setting, n: number, shown: string, where: string): number {
  const duration = s.kind === 'duration';
  const min = s.limits?.min ?? 0;
  const max = Math.min(s.limits?.max ?? Number.MAX_SAFE_INTEGER, duration ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER);
  const show = (v: number): string => (duration ? formatDuration(v) : String(v));
  if (n < min) {
    const want = min === 0 ? 'zero or more' : min === 1 ? (duration ? 'positive' : 'at least 1') : `at least ${show(min)}`;
    throw new ConfigError(`${where}: "${settingId(s)}" must be ${want}, got ${shown}`);
  }
  if (n > max) throw new ConfigError(`${where}: "${settingId(s)}" must be at most ${show(max)}, got ${shown}`);
  return n;
}

/** Reads a TOML config file into raw values keyed by setting id. Unknown keys are errors. */
function loadFile(path: string, warnings: string[]): Map<string, Value> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
  const values = new Map<string, Value>();
  const baseDir = dirname(resolve(path));
  const take = (section: Section, table: Record<string, unknown>): void => {
    for (const [key, raw] of Object.entries(table)) {
      const setting = SETTINGS.find((s) => s.section === section && s.key === key);
      if (setting === undefined) {
        if (section === '' && IGNORED_LOG_GO_KEYS.has(key)) {
          warnings.push(`config key "${key}" is a Trillian setting of log-go and is ignored here (see db-file)`);
          continue;
        }
        if (section === '' && (key === 'primary' || key === 'secondary' || key === 'backup') && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
          take(key, raw as Record<string, unknown>);
          continue;
        }
        const id = section === '' ? key : `${section}.${key}`;
        throw new ConfigError(`config file ${path}: unknown key "${id}"`);
      }
      values.set(settingId(setting), coerce(setting, raw, `config file ${path}`, baseDir));
    }
  };
  take('', doc);
  return values;
}

export interface LoadOptions {
  role: Role;
  /** Config file path, or undefined to use $SIGSUM_LOGSERVER_CONFIG, else /etc/sigsum/config.toml. */
  configFile: string | undefined;
  /** Command-line overrides keyed by flag name (flagName: the key, or backup-<key>), raw strings or string arrays. */
  flags: Record<string, string | string[] | boolean | undefined>;
  env?: NodeJS.ProcessEnv;
  /**
   * Whether a secondary's config must name its upstream (default true).
   * `import` and `restore` read a secondary-style config whose upstream is
   * given otherwise (--from) or not needed.
   */
  requirePrimaryUrl?: boolean;
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SIGSUM_LOGSERVER_CONFIG ?? '/etc/sigsum/config.toml';
}

/** Loads and validates the configuration for a node of the given role. */
export function loadConfig(opts: LoadOptions): Config {
  const warnings: string[] = [];
  const path = opts.configFile ?? defaultConfigPath(opts.env);
  const values = loadFile(path, warnings);
  for (const s of SETTINGS) {
    const raw = opts.flags[flagName(s)];
    if (raw === undefined) continue;
    values.set(settingId(s), coerce(s, raw, `flag --${flagName(s)}`, process.cwd()));
  }
  const get = <T extends Value>(id: string): T => {
    const v = values.get(id);
    if (v !== undefined) return v as T;
    const s = SETTINGS.find((x) => settingId(x) === id) as Setting;
    return s.fallback as T;
  };
  const interval = values.get('interval') as number | undefined;
  const intervalMs = interval ?? (opts.role === 'primary' ? 10_000 : 1_000);
  const logLevel = get<string>('log-level');
  if (!['debug', 'info', 'warning', 'error'].includes(logLevel)) {
    throw new ConfigError(`log-level must be debug, info, warning or error, got "${logLevel}"`);
  }
  const logFormat = get<string>('log-format');
  if (logFormat !== 'text' && logFormat !== 'json') {
    throw new ConfigError(`log-format must be text or json, got "${logFormat}"`);
  }
  const config: Config = {
    role: opts.role,
    externalEndpoint: get('external-endpoint'),
    internalEndpoint: get('internal-endpoint'),
    urlPrefix: get('url-prefix'),
    timeoutMs: get('timeout'),
    intervalMs,
    keyFile: get('key-file'),
    dbFile: get('db-file'),
    logFile: get('log-file'),
    logLevel: logLevel as Config['logLevel'],
    logFormat,
    internalTokenFile: get('internal-token-file'),
    tilesDir: get('tiles-dir'),
    http: {
      headersTimeoutMs: get('headers-timeout'),
      requestTimeoutMs: get('request-timeout'),
      maxConnections: get('max-connections'),
      maxPipelinedRequests: get('max-pipelined-requests'),
    },
    primary: {
      policyFile: get('primary.policy-file'),
      rateLimitFile: get('primary.rate-limit-file'),
      allowTestDomain: get('primary.allow-test-domain'),
      sthFile: get('primary.sth-file'),
      maxRange: get('primary.max-range'),
      secondaryUrls: get('primary.secondary-url'),
      secondaryPubkeyFiles: get('primary.secondary-pubkey-file'),
      batchSize: get('primary.batch-size'),
      batchIntervalMs: get('primary.batch-interval'),
      maxPending: get('primary.max-pending'),
      idleIntervalMs: (values.get('primary.idle-interval') as number | undefined) ?? intervalMs,
      dnsResolver: get('primary.dns-resolver'),
      maxVerifications: get('primary.max-verifications'),
      maxVerificationsPerClient: get('primary.max-verifications-per-client'),
      witnessGraceMs: get('primary.witness-grace'),
    },
    secondary: {
      primaryUrl: get('secondary.primary-url'),
      logPubkeyFile: get('secondary.log-pubkey-file'),
      serveReads: get('secondary.serve-reads'),
      maxRange: get('secondary.read-max-range'),
      policyFile: get('secondary.read-policy-file'),
    },
    backup: {
      dir: get('backup.dir'),
      intervalMs: get('backup.interval'),
      keep: get('backup.keep'),
      maxRateMib: get('backup.max-rate'),
    },
    warnings,
  };
  validate(config, opts.requirePrimaryUrl ?? true);
  return config;
}

function validate(c: Config, requirePrimaryUrl: boolean): void {
  const need = (ok: boolean, msg: string): void => {
    if (!ok) throw new ConfigError(msg);
  };
  need(c.keyFile !== '', 'key-file is not set');
  need(c.dbFile !== '', 'db-file is not set');
  // Ranges of single values are checked as they are read (SETTINGS limits);
  // what follows relates values to each other, or predates the limits.
  const h = c.http;
  need(h.headersTimeoutMs <= h.requestTimeoutMs, `headers-timeout (${h.headersTimeoutMs}ms) must not exceed request-timeout (${h.requestTimeoutMs}ms)`);
  if (c.role === 'primary') {
    const p = c.primary;
    need(p.sthFile !== '', '[primary] sth-file is not set');
    need(
      p.maxVerificationsPerClient <= p.maxVerifications,
      `[primary] max-verifications-per-client must be from 1 to max-verifications (${p.maxVerifications})`,
    );
    need(
      p.secondaryUrls.length === p.secondaryPubkeyFiles.length,
      `[primary] secondary-url has ${p.secondaryUrls.length} entries but secondary-pubkey-file has ${p.secondaryPubkeyFiles.length}; they must pair up`,
    );
  } else if (requirePrimaryUrl) {
    need(c.secondary.primaryUrl !== '', '[secondary] primary-url is not set');
  }
}

/** The --help text for all settings. */
export function settingsHelp(): string {
  const lines: string[] = [];
  for (const s of SETTINGS) {
    const where = s.section === '' ? '' : ` [${s.section}]`;
    const def = s.fallback === undefined ? 'role-dependent' : JSON.stringify(s.kind === 'duration' ? `${s.fallback}ms` : s.fallback);
    lines.push(`  --${flagName(s)}${where}\n      ${s.help} (default ${def})`);
  }
  return lines.join('\n');
}
