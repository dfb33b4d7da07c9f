// TXT lookups for submit tokens: an interface the verifier depends on, the
// node:dns implementation, and a small cache in front of it. The cache
// matters because a submitter repeats add-leaf until the leaf is sequenced,
// and every request carries the token.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

/** "not-found" covers NXDOMAIN and a name without TXT records. */
export type TxtAnswer = { readonly found: true; readonly records: readonly string[] } | { readonly found: false };

export interface TxtResolver {
  /** Resolves name's TXT records, each record's strings joined. Rejects on timeout or server failure. */
  lookupTxt(name: string): Promise<TxtAnswer>;
}

export interface DnsResolverOptions {
  /** "ip", "ip:port" or "[ipv6]:port"; empty or absent: the system's resolvers. */
  readonly server?: string;
  /** Upper bound for one lookup. */
  readonly timeoutMs: number;
}

/** Validates a resolver address; returns the form node:dns setServers takes. */
export function parseResolverAddress(address: string): string {
  const bad = (): never => {
    throw new ConfigError(`invalid DNS resolver address ${JSON.stringify(address)}: expected IP, IP:port or [IPv6]:port`);
  };
  let host = address;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(address);
  if (bracketed !== null) {
    host = bracketed[1]!;
    port = bracketed[2];
    if (isIP(host) !== 6) bad();
  } else if (isIP(address) === 6) {
    return address;
  } else {
    const m = /^([^:]+)(?::([0-9]+))?$/.exec(address) ?? bad();
    host = m[1]!;
    port = m[2];
    if (isIP(host) !== 4) bad();
  }
  if (port !== undefined) {
    const n = Number(port);
    if (!(n >= 1 && n <= 65535)) bad();
  }
  if (port === undefined) return host;
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

const NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA']);

/** A TxtResolver backed by node:dns (c-ares), one try per lookup, bounded by timeoutMs. */
export function createDnsResolver(options: DnsResolverOptions): TxtResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs, tries: 1 });
  if (options.server !== undefined && options.server !== '') {
    resolver.setServers([parseResolverAddress(options.server)]);
  }
  return {
    async lookupTxt(name: string): Promise<TxtAnswer> {
      try {
        const records = await resolver.resolveTxt(name);
        return { found: true, records: records.map((chunks) => chunks.join('')) };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== undefined && NOT_FOUND_CODES.has(code)) return { found: false };
        throw e;
      }
    },
  };
}

export interface CacheOptions {
  readonly now: () => number;
  /** How long an answer with records is reused. */
  readonly positiveTtlMs: number;
  /** How long "no such records" is reused; short, so a newly published key is seen soon. */
  readonly negativeTtlMs: number;
  /** Entry bound; the oldest entry is evicted beyond it. */
  readonly maxEntries: number;
}

export const DEFAULT_CACHE_OPTIONS: Omit<CacheOptions, 'now'> = {
  positiveTtlMs: 5 * 60 * 1000,
  negativeTtlMs: 60 * 1000,
  maxEntries: 10_000,
};

/**
 * Caches answers (not failures, which may be transient) with fixed TTLs:
 * node:dns does not expose TXT record TTLs. Concurrent lookups of one name
 * share a single query.
 */
export function cachingResolver(inner: TxtResolver, options: CacheOptions): TxtResolver {
  const cache = new Map<string, { answer: TxtAnswer; expires: number }>();
  const inFlight = new Map<string, Promise<TxtAnswer>>();

  return {
    lookupTxt(rawName: string): Promise<TxtAnswer> {
      const name = rawName.toLowerCase();
      const hit = cache.get(name);
      if (hit !== undefined) {
        if (hit.expires > options.now()) return Promise.resolve(hit.answer);
        cache.delete(name);
      }
      const pending = inFlight.get(name);
      if (pending !== undefined) return pending;
      const query = inner.lookupTxt(name).then(
        (answer) => {
          inFlight.delete(name);
          const ttl = answer.found ? options.positiveTtlMs : options.negativeTtlMs;
          if (ttl > 0) {
            if (cache.size >= options.maxEntries) {
              const oldest = cache.keys().next();
              if (oldest.done !== true) cache.delete(oldest.value);
            }
            cache.set(name, { answer, expires: options.now() + ttl });
          }
          return answer;
        },
        (err: unknown) => {
          inFlight.delete(name);
          throw err;
        },
      );
      inFlight.set(name, query);
      return query;
    },
  };
}

/**
 * DNS lookups in progress at once, at most (distinct names: the cache in
 * front shares a lookup of one name). Beyond it a lookup fails at once, and
 * the token is answered 503: a flood of tokens for made-up domains cannot
 * queue unbounded lookups, nor flood the resolver.
 */
export const MAX_CONCURRENT_LOOKUPS = 32;

/** Fails a lookup at once while `max` are in progress. */
export function concurrencyLimitedResolver(inner: TxtResolver, max: number): TxtResolver {
  let inProgress = 0;
  return {
    async lookupTxt(name: string): Promise<TxtAnswer> {
      if (inProgress >= max) throw new Error(`${inProgress} DNS lookups are in progress already; retry later`);
      inProgress++;
      try {
        return await inner.lookupTxt(name);
      } finally {
        inProgress--;
      }
    },
  };
}

/** The production resolver: node:dns, at most MAX_CONCURRENT_LOOKUPS at once, with the default cache in front. */
export function createTxtResolver(options: DnsResolverOptions & { readonly now?: () => number; readonly maxConcurrentLookups?: number }): TxtResolver {
  const bounded = concurrencyLimitedResolver(createDnsResolver(options), options.maxConcurrentLookups ?? MAX_CONCURRENT_LOOKUPS);
  return cachingResolver(bounded, { ...DEFAULT_CACHE_OPTIONS, now: options.now ?? Date.now });
}
