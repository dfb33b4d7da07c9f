// The promoted node's primary configuration, derived from its secondary
// configuration: the same listeners, database and settings, the log's key as
// key-file, an sth-file, and the [primary] table (kept from the old file if
// the operator prepared one there, secondaries replaced by the command line's).
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { SETTINGS } from '../config/config.js';
import { ConfigError } from '../errors.js';

export interface SecondaryEntry {
  url: string;
  pubkeyFile: string;
}

export interface PrimaryConfigPlan {
  /** The secondary's config file: its path (relative paths in it are relative to its directory) and text. */
  secondaryConfigPath: string;
  secondaryConfigText: string;
  /** Absolute paths. */
  logKeyFile: string;
  sthFile: string;
  /** From the command line; empty keeps the [primary] secondaries of the old file, if any. */
  secondaries: readonly SecondaryEntry[];
}

/** `<dir>/<name>.toml` → `<dir>/<name>-primary.toml`. */
export function defaultPrimaryConfigPath(secondaryConfigPath: string): string {
  const ext = extname(secondaryConfigPath);
  return join(dirname(secondaryConfigPath), `${basename(secondaryConfigPath, ext)}-primary${ext === '' ? '.toml' : ext}`);
}

/** Next to the database: `<dir>/<name>.db` → `<dir>/<name>.sth`. */
export function defaultSthPath(dbFile: string): string {
  return join(dirname(dbFile), `${basename(dbFile, extname(dbFile))}.sth`);
}

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The new config's text. Deterministic for the same input, so that a re-run
 * can tell its own earlier output from an operator's edits.
 */
export function primaryConfigText(plan: PrimaryConfigPlan): string {
  let doc: Table;
  try {
    doc = parseToml(plan.secondaryConfigText) as Table;
  } catch (err) {
    throw new ConfigError(`config file ${plan.secondaryConfigPath}: ${(err as Error).message}`);
  }
  absolutizePaths(doc, dirname(resolve(plan.secondaryConfigPath)));
  const top: Table = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key !== 'primary' && key !== 'secondary') top[key] = value;
  }
  top['key-file'] = plan.logKeyFile;
  const primary: Table = isTable(doc.primary) ? { ...doc.primary } : {};
  primary['sth-file'] = plan.sthFile;
  if (plan.secondaries.length > 0) {
    primary['secondary-url'] = plan.secondaries.map((s) => s.url);
    primary['secondary-pubkey-file'] = plan.secondaries.map((s) => s.pubkeyFile);
  } else {
    primary['secondary-url'] ??= [];
    primary['secondary-pubkey-file'] ??= [];
  }
  top.primary = primary;
  const header = [
    `# Primary configuration written by \`sigsum-log promote-secondary\` from ${resolve(plan.secondaryConfigPath)}.`,
    '# Same node, database and listeners; key-file is now the log\'s signing key.',
    '# List this log\'s secondaries in [primary] secondary-url / secondary-pubkey-file (same order)',
    '# before starting: without any, the primary publishes leaves no other node holds.',
    '',
  ];
  return header.join('\n') + stringifyToml(top) + '\n';
}

/** Rewrites every path setting relative to the old file's directory as an absolute path, so the new file may live anywhere. */
function absolutizePaths(doc: Table, baseDir: string): void {
  const abs = (p: unknown): unknown => (typeof p === 'string' && p !== '' && !isAbsolute(p) ? resolve(baseDir, p) : p);
  for (const s of SETTINGS) {
    if (s.kind !== 'path' && s.kind !== 'path-list') continue;
    const table = s.section === '' ? doc : doc[s.section];
    if (!isTable(table) || !(s.key in table)) continue;
    const value = table[s.key];
    table[s.key] = Array.isArray(value) ? value.map(abs) : abs(value);
  }
}
