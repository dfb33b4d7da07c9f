// The rate-limit file, in log-go's format (log-go doc/rate-limit.md and
// internal/rate-limit/config.go). One rule per line, fields separated by
// white space, "#" starts a comment that runs to the end of the line:
//
//   key <hex key hash> <limit>        leaves signed by this submitter key
//   domain <domain> <limit>           verified token domain, or any subdomain of it
//   public <suffix file> <limit>      anyone else with a verified token, counted
//                                     per registered domain (public suffix list)
//
// A limit is an unsigned decimal below 2^31: leaves per 24 hours; 0 refuses.
// Keys and domains may each appear once; "public" at most once. Without a
// "public" line (or with limit 0) only allow-listed submitters get in.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { fromHex, toHex } from '../hex.js';
import { HASH_SIZE } from '../types.js';
import { normalizeDomain } from './domain.js';
import { parsePublicSuffixList, type PublicSuffixList } from './public-suffix.js';

/**
 * log-go's shared test domain: its private key is published, so anyone can
 * mint tokens for it. Banned (limit 0) unless the operator opts in.
 */
export const TEST_DOMAIN = 'test.sigsum.org';

const MAX_LIMIT = 2 ** 31 - 1;

export interface RateLimitConfig {
  /** Lowercase hex key hash -> leaves per 24 h. */
  readonly keys: ReadonlyMap<string, number>;
  /** Normalized domain (see normalizeDomain) -> leaves per 24 h, shared by its subdomains. */
  readonly domains: ReadonlyMap<string, number>;
  /** Present when public submissions are allowed (limit > 0). */
  readonly public?: {
    /** Leaves per 24 h, per registered domain. */
    readonly limit: number;
    readonly suffixes: PublicSuffixList;
  };
}

export interface ParseOptions {
  /** Names the file in error messages. */
  readonly source?: string;
  /** Reads the public suffix file named by a "public" line; only called when its limit is > 0. */
  readonly readSuffixFile: (path: string) => string;
  /** Accept tokens for test.sigsum.org. Default false, as in log-go. */
  readonly allowTestDomain?: boolean;
}

/** Parses a rate-limit file's text. Throws ConfigError naming the line on any problem. */
export function parseRateLimitConfig(text: string, options: ParseOptions): RateLimitConfig {
  const source = options.source ?? 'rate-limit file';
  const keys = new Map<string, number>();
  const domains = new Map<string, number>();
  let publicLine: { file: string; limit: number; lineNo: number } | undefined;

  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const fail = (why: string): never => {
      throw new ConfigError(`${source} line ${lineNo}: ${why}`);
    };
    const content = lines[i]!.replace(/#.*$/, '').trim();
    if (content === '') continue;
    const fields = content.split(/\s+/);
    if (fields.length !== 3) {
      fail(`expected "<keyword> <value> <limit>", got ${fields.length} field(s): ${JSON.stringify(content)}`);
    }
    const [keyword, item, limitText] = fields as [string, string, string];
    if (keyword !== 'key' && keyword !== 'domain' && keyword !== 'public') {
      fail(`unknown keyword ${JSON.stringify(keyword)}: expected key, domain or public`);
    }
    const limit = parseLimit(limitText) ?? fail(`invalid limit ${JSON.stringify(limitText)}: expected an integer from 0 to ${MAX_LIMIT}`);

    switch (keyword) {
      case 'key': {
        let hash: Uint8Array;
        try {
          hash = fromHex(item);
        } catch {
          return fail(`invalid key hash ${JSON.stringify(item)}: not hex`);
        }
        if (hash.length !== HASH_SIZE) fail(`invalid key hash ${JSON.stringify(item)}: expected ${HASH_SIZE * 2} hex digits`);
        const id = toHex(hash);
        if (keys.has(id)) fail(`duplicate key ${id}`);
        keys.set(id, limit);
        break;
      }
      case 'domain': {
        let name: string;
        try {
          name = normalizeDomain(item).name;
        } catch (e) {
          return fail((e as Error).message);
        }
        if (domains.has(name)) fail(`duplicate domain ${name}`);
        domains.set(name, limit);
        break;
      }
      case 'public':
        if (publicLine !== undefined) fail(`only one "public" line is allowed (first on line ${publicLine.lineNo})`);
        publicLine = { file: item, limit, lineNo };
        break;
    }
  }

  // Applied after parsing so that it overrides a "domain" line for it, as in log-go.
  if (options.allowTestDomain !== true) domains.set(TEST_DOMAIN, 0);

  if (publicLine === undefined || publicLine.limit === 0) return { keys, domains };
  let suffixes: PublicSuffixList;
  try {
    suffixes = parsePublicSuffixList(options.readSuffixFile(publicLine.file));
  } catch (e) {
    throw new ConfigError(`${source} line ${publicLine.lineNo}: public suffix file ${publicLine.file}: ${(e as Error).message}`);
  }
  return { keys, domains, public: { limit: publicLine.limit, suffixes } };
}

function parseLimit(text: string): number | undefined {
  // Digits only: no sign, no exponent, no separators (Go's ParseUint, base 10).
  if (!/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_LIMIT ? n : undefined;
}

export interface LoadOptions {
  readonly allowTestDomain?: boolean;
}

/**
 * Reads and parses a rate-limit file. A relative suffix-file path is taken
 * relative to the rate-limit file's directory (log-go uses the working
 * directory; anchoring it to the file makes the config independent of where
 * the server is started).
 */
export function loadRateLimitFile(path: string, options: LoadOptions = {}): RateLimitConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read rate-limit file ${path}: ${(e as Error).message}`);
  }
  const base = dirname(path);
  return parseRateLimitConfig(text, {
    source: path,
    allowTestDomain: options.allowTestDomain ?? false,
    readSuffixFile: (file) => readFileSync(resolve(base, file), 'utf8'),
  });
}
