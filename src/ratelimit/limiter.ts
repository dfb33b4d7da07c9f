// Classifies an add-leaf submitter against the rate-limit config and keeps
// the per-submitter counts. See index.ts for the rules in one place.
import { RateLimitedError } from '../errors.js';
import { toHex } from '../hex.js';
import type { Hash } from '../types.js';
import type { RateLimitConfig } from './config.js';
import { domainAndParents } from './domain.js';
import { SlidingWindowCounter } from './window.js';

export interface Submitter {
  /** Hash of the public key that signed the leaf. */
  readonly keyHash: Hash;
  /** Domain returned by a TokenVerifier; absent when the request had no sigsum-token header. */
  readonly domain?: string;
}

/** The counter a request is charged to and the limit it is held to. */
export interface Charge {
  readonly kind: 'key' | 'domain' | 'public';
  /** The counted identity: hex key hash, configured domain, or registered domain. */
  readonly subject: string;
  readonly limit: number;
}

/** A charge that has been counted; refund() takes it back (idempotent). */
export interface Admission {
  readonly charge: Charge;
  refund(): void;
}

/**
 * Which counter applies, in log-go's precedence: a "key" line for the leaf
 * key; else the longest "domain" line matching the token domain or one of
 * its parents; else, with public access, the token domain's registered
 * domain. Returns a reason string when nothing admits the submitter.
 */
export function classify(config: RateLimitConfig, submitter: Submitter): Charge | string {
  const keyId = toHex(submitter.keyHash);
  const keyLimit = config.keys.get(keyId);
  if (keyLimit !== undefined) return { kind: 'key', subject: keyId, limit: keyLimit };

  const domain = submitter.domain;
  if (domain === undefined) {
    return `submitter key ${keyId} is not allow-listed and the request has no sigsum-token header`;
  }
  // Parents are visited longest first, so the first hit is the most specific line.
  for (const candidate of domainAndParents(domain)) {
    const limit = config.domains.get(candidate);
    if (limit !== undefined) return { kind: 'domain', subject: candidate, limit };
  }
  if (config.public === undefined) {
    return `domain ${JSON.stringify(domain)} is not allow-listed and this log does not accept public submissions`;
  }
  const registered = config.public.suffixes.registeredDomain(domain);
  if (registered === undefined) {
    return `domain ${JSON.stringify(domain)} is not under a known public suffix`;
  }
  return { kind: 'public', subject: registered, limit: config.public.limit };
}

function describe(charge: Charge): string {
  switch (charge.kind) {
    case 'key':
      return `rate limit for submitter key ${charge.subject}`;
    case 'domain':
      return `rate limit for domain ${JSON.stringify(charge.subject)}`;
    case 'public':
      return `public rate limit for registered domain ${JSON.stringify(charge.subject)}`;
  }
}

/**
 * Counts new leaves per submitter over a sliding 24 h window. Counts live in
 * memory only, so a restart forgets them (as in log-go, whose counters also
 * reset every 24 h).
 */
export class RateLimiter {
  private readonly counter: SlidingWindowCounter;

  constructor(
    private readonly config: RateLimitConfig,
    now: () => number = Date.now,
  ) {
    this.counter = new SlidingWindowCounter(now);
  }

  /**
   * Charges one leaf to the submitter's counter, or throws RateLimitedError
   * (429) naming the limit when it is used up or no rule admits the
   * submitter. Call before storing the leaf, and refund() if the leaf turns
   * out to be known already or storing fails: the charge is taken up front
   * so that concurrent requests cannot overshoot the limit while storage is
   * in progress.
   */
  admit(submitter: Submitter): Admission {
    const charge = classify(this.config, submitter);
    if (typeof charge === 'string') throw new RateLimitedError(`submission refused: ${charge}`);
    const key = `${charge.kind}:${charge.subject}`;
    if (this.counter.count(key) >= charge.limit) {
      throw new RateLimitedError(
        charge.limit === 0
          ? `${describe(charge)} is 0: submissions are not allowed`
          : `${describe(charge)} exceeded: ${charge.limit} new leaves per 24 hours`,
      );
    }
    const hour = this.counter.add(key);
    let refunded = false;
    return {
      charge,
      refund: () => {
        if (refunded) return;
        refunded = true;
        this.counter.remove(key, hour);
      },
    };
  }

  /** Leaves counted for the submitter's charge in the current window (0 if none applies). */
  used(submitter: Submitter): number {
    const charge = classify(this.config, submitter);
    return typeof charge === 'string' ? 0 : this.counter.count(`${charge.kind}:${charge.subject}`);
  }
}
