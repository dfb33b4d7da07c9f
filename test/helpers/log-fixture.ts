// Builds real node setups in a temp directory: keys, TOML config, startup
// file; and starts them as child processes on free loopback ports.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSeed, signerFromSeed } from '../../src/crypto/index.js';
import { readPrivateKeyFile, writeKeyPair } from '../../src/crypto/keyfile.js';
import type { Signer } from '../../src/types.js';
import { freePort, spawnCli, type NodeProcess } from './node-process.js';

export function tempDir(prefix = 'sigsum-log-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function makeKey(file: string): Signer {
  writeKeyPair(file, generateSeed());
  return signerFromSeed(readPrivateKeyFile(file));
}

type TomlValue = string | number | boolean | string[];

function tomlLine(key: string, value: TomlValue): string {
  if (Array.isArray(value)) return `${key} = [${value.map((v) => JSON.stringify(v)).join(', ')}]`;
  return `${key} = ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
}

export function writeToml(file: string, top: Record<string, TomlValue>, sections: Record<string, Record<string, TomlValue>> = {}): void {
  const lines = Object.entries(top).map(([k, v]) => tomlLine(k, v));
  for (const [name, values] of Object.entries(sections)) {
    lines.push('', `[${name}]`, ...Object.entries(values).map(([k, v]) => tomlLine(k, v)));
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

export interface NodeSetup {
  dir: string;
  config: string;
  keyFile: string;
  signer: Signer;
  dbFile: string;
  publicPort: number;
  internalPort: number;
  publicUrl: string;
  internalUrl: string;
}

export interface PrimarySetup extends NodeSetup {
  sthFile: string;
}

export interface PrimaryOptions {
  interval?: string;
  secondaries?: Array<{ url: string; pubkeyFile: string }>;
  top?: Record<string, TomlValue>;
  primary?: Record<string, TomlValue>;
  /** Reuse this key file instead of making a new log key. */
  keyFile?: string;
}

async function baseSetup(dir: string, name: string, keyFile?: string): Promise<NodeSetup> {
  mkdirSync(dir, { recursive: true });
  const key = keyFile ?? join(dir, `${name}.key`);
  const signer = keyFile === undefined ? makeKey(key) : signerFromSeed(readPrivateKeyFile(keyFile));
  const publicPort = await freePort();
  const internalPort = await freePort();
  return {
    dir,
    config: join(dir, `${name}.toml`),
    keyFile: key,
    signer,
    dbFile: join(dir, `${name}.db`),
    publicPort,
    internalPort,
    publicUrl: `http://127.0.0.1:${publicPort}`,
    internalUrl: `http://127.0.0.1:${internalPort}`,
  };
}

/**
 * (Re)writes a primary's config file. Multi-node setups call it again once
 * their secondaries exist, since each side's config names the other.
 */
export function writePrimaryConfig(setup: PrimarySetup, opts: Omit<PrimaryOptions, 'keyFile'> = {}): void {
  writeToml(
    setup.config,
    {
      'external-endpoint': `127.0.0.1:${setup.publicPort}`,
      'internal-endpoint': `127.0.0.1:${setup.internalPort}`,
      'key-file': setup.keyFile,
      'db-file': setup.dbFile,
      interval: opts.interval ?? '1s',
      timeout: '2s',
      ...opts.top,
    },
    {
      primary: {
        'sth-file': setup.sthFile,
        'secondary-url': (opts.secondaries ?? []).map((s) => s.url),
        'secondary-pubkey-file': (opts.secondaries ?? []).map((s) => s.pubkeyFile),
        ...opts.primary,
      },
    },
  );
}

/** Writes a primary's key, config and startup file (startup=empty). */
export async function preparePrimary(dir: string, opts: PrimaryOptions = {}, name = 'primary'): Promise<PrimarySetup> {
  const base = await baseSetup(dir, name, opts.keyFile);
  const setup = { ...base, sthFile: join(dir, `${name}.sth`) };
  writePrimaryConfig(setup, opts);
  writeFileSync(`${setup.sthFile}.startup`, 'startup=empty\n');
  return setup;
}

export interface SecondaryOptions {
  primaryUrl: string;
  logPubkeyFile?: string;
  interval?: string;
  top?: Record<string, TomlValue>;
  /** More [secondary] keys. */
  secondary?: Record<string, TomlValue>;
}

export async function prepareSecondary(dir: string, opts: SecondaryOptions, name = 'secondary'): Promise<NodeSetup> {
  const base = await baseSetup(dir, name);
  writeToml(
    base.config,
    {
      'external-endpoint': `127.0.0.1:${base.publicPort}`,
      'internal-endpoint': `127.0.0.1:${base.internalPort}`,
      'key-file': base.keyFile,
      'db-file': base.dbFile,
      interval: opts.interval ?? '200ms',
      timeout: '2s',
      ...opts.top,
    },
    { secondary: { 'primary-url': opts.primaryUrl, ...(opts.logPubkeyFile ? { 'log-pubkey-file': opts.logPubkeyFile } : {}), ...opts.secondary } },
  );
  return base;
}

const READY = /public API on http:\/\/\S+/;

/** Starts a node and waits until both listeners are up. */
export async function startNodeProcess(role: 'primary' | 'secondary', setup: NodeSetup, extraArgs: string[] = []): Promise<NodeProcess> {
  const p = spawnCli(['--role', role, '--config', setup.config, ...extraArgs], { name: `${role} ${setup.config}` });
  try {
    await p.waitForOutput(READY, 20_000);
  } catch (err) {
    await p.kill9(); // the caller never gets a handle to clean up
    throw err;
  }
  return p;
}
