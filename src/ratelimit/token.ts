// The sigsum-token header (Sigsum log spec, log.md section 4; sigsum-go
// pkg/submit-token/token.go):
//
//   sigsum-token: <domain> <128 hex digits: Ed25519 signature>
//
// The signature is made with a "rate-limit key" whose public key the
// submitter publishes, hex-encoded, as TXT records at _sigsum_v1.<domain>.
// The signed message binds the token to this log, so a token cannot be
// replayed to other logs:
//
//   "sigsum.org/v1/submit-token" || 0x00 || log's raw 32-byte public key
import { BadRequestError, ForbiddenError, UnavailableError } from '../errors.js';
import { ed25519Verify } from '../crypto/index.js';
import { fromHex } from '../hex.js';
import { asPublicKey, asSignature, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, type PublicKey, type Signature } from '../types.js';
import type { TxtResolver, TxtAnswer } from './dns.js';
import { normalizeDomain, type NormalizedDomain } from './domain.js';

export const TOKEN_HEADER = 'sigsum-token';
const NAMESPACE = 'sigsum.org/v1/submit-token';
const LABEL = '_sigsum_v1';
// sigsum-go still falls back to the pre-v1 label when the v1 name does not exist.
const OLD_LABEL = '_sigsum_v0';
// The spec asks logs to try at least 10 keys; more would let one header cost
// the log an unbounded number of signature checks.
export const MAX_KEYS = 10;

/** The bytes a submit token signs. */
export function submitTokenMessage(logPublicKey: PublicKey): Uint8Array {
  const prefix = Buffer.from(`${NAMESPACE}\0`, 'latin1');
  return new Uint8Array(Buffer.concat([prefix, logPublicKey]));
}

export interface TokenHeader {
  readonly domain: NormalizedDomain;
  readonly signature: Signature;
}

/** Parses a sigsum-token header value strictly; throws BadRequestError (400). */
export function parseTokenHeader(value: string): TokenHeader {
  const bad = (why: string): never => {
    throw new BadRequestError(`malformed ${TOKEN_HEADER} header: ${why}`);
  };
  // One space exactly, like sigsum-go: the HTTP layer has already trimmed
  // the value, so any other white space means a malformed header.
  const parts = value.split(' ');
  if (parts.length !== 2) bad(`expected "<domain> <hex signature>" separated by one space, got ${parts.length} part(s)`);
  const [domainText, sigHex] = parts as [string, string];
  if (domainText === '') bad('empty domain');
  let domain: NormalizedDomain;
  try {
    domain = normalizeDomain(domainText);
  } catch (e) {
    return bad((e as Error).message);
  }
  if (sigHex.length !== SIGNATURE_SIZE * 2 || !/^[0-9a-fA-F]*$/.test(sigHex)) {
    bad(`signature must be ${SIGNATURE_SIZE * 2} hex digits`);
  }
  return { domain, signature: asSignature(fromHex(sigHex)) };
}

/** Ed25519 verification, off the main thread in production (the verify pool). */
export type TokenSignatureVerifier = (publicKey: PublicKey, message: Uint8Array, signature: Signature) => Promise<boolean>;

export interface TokenVerifierOptions {
  /** This log's public key: the message every valid token signs. */
  readonly logPublicKey: PublicKey;
  readonly resolver: TxtResolver;
  /** Default: node:crypto on the calling thread. */
  readonly verify?: TokenSignatureVerifier;
  /** How long a verdict on one token (domain and signature) is reused; default VERDICT_TTL_MS. */
  readonly verdictTtlMs?: number;
  readonly now?: () => number;
}

/**
 * A verdict on a token (its domain, or 403) is reused for a minute: every
 * request of a submitter carries the same token, and sigsum-submit repeats
 * add-leaf until 200. Short, so that a key removed from DNS stops working
 * soon after the DNS cache (5 min) lets go of it; a DNS failure is never
 * kept.
 */
export const VERDICT_TTL_MS = 60_000;
/** Verdicts kept at most (the oldest goes first): about 200 bytes each. */
export const MAX_VERDICTS = 10_000;

export interface TokenVerifier {
  /**
   * Verifies a sigsum-token header value and returns the normalized domain
   * to charge. Throws BadRequestError (400) for a malformed header,
   * ForbiddenError (403) when no key published for the domain verifies the
   * token, UnavailableError (503) when DNS does not answer.
   */
  verify(headerValue: string): Promise<string>;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const message = submitTokenMessage(options.logPublicKey);
  const verifySignature: TokenSignatureVerifier = options.verify ?? (async (key, msg, sig) => ed25519Verify(key, msg, sig));
  const ttlMs = options.verdictTtlMs ?? VERDICT_TTL_MS;
  const now = options.now ?? Date.now;
  // By "<domain> <signature hex>"; a promise, so that concurrent requests
  // with one token share one lookup and one round of signature checks.
  const verdicts = new Map<string, { expires: number; domain: Promise<string> }>();

  async function lookup(domain: NormalizedDomain): Promise<{ name: string; answer: TxtAnswer }> {
    const name = `${LABEL}.${domain.ascii}`;
    try {
      const answer = await options.resolver.lookupTxt(name);
      if (answer.found) return { name, answer };
      const oldName = `${OLD_LABEL}.${domain.ascii}`;
      const old = await options.resolver.lookupTxt(oldName);
      return old.found ? { name: oldName, answer: old } : { name, answer };
    } catch (e) {
      throw new UnavailableError(`DNS lookup of ${name} failed: ${(e as Error).message}`);
    }
  }

  async function check(domain: NormalizedDomain, signature: Signature): Promise<string> {
    const { name, answer } = await lookup(domain);
    if (!answer.found || answer.records.length === 0) {
      throw new ForbiddenError(`${TOKEN_HEADER}: no TXT record at ${name}`);
    }
    const tried = answer.records.slice(0, MAX_KEYS);
    const keys = tried.map(parseKeyRecord).filter((k): k is PublicKey => k !== undefined);
    const malformed = tried.length - keys.length;
    // All at once: the pool checks them in parallel, and a valid token's key is often not the first.
    const results = await Promise.all(keys.map((key) => verifySignature(key, message, signature)));
    if (results.includes(true)) return domain.name;
    const ignored = answer.records.length - tried.length;
    throw new ForbiddenError(
      `${TOKEN_HEADER} for ${domain.name} does not verify with any key at ${name}` +
        ` (${keys.length} key(s) tried, ${malformed} malformed record(s), ${ignored} ignored beyond ${MAX_KEYS})`,
    );
  }

  return {
    verify(headerValue: string): Promise<string> {
      let parsed: TokenHeader;
      try {
        parsed = parseTokenHeader(headerValue);
      } catch (e) {
        return Promise.reject(e);
      }
      const id = `${parsed.domain.name} ${Buffer.from(parsed.signature).toString('hex')}`;
      const t = now();
      const hit = verdicts.get(id);
      if (hit !== undefined) {
        if (hit.expires > t) return hit.domain;
        verdicts.delete(id);
      }
      const domain = check(parsed.domain, parsed.signature);
      if (verdicts.size >= MAX_VERDICTS) {
        const oldest = verdicts.keys().next();
        if (oldest.done !== true) verdicts.delete(oldest.value);
      }
      const entry = { expires: t + ttlMs, domain };
      verdicts.set(id, entry);
      // A verdict is kept; "could not tell" (DNS, shutting down) is not.
      domain.catch((e: unknown) => {
        if (!(e instanceof ForbiddenError) && verdicts.get(id) === entry) verdicts.delete(id);
      });
      return domain;
    },
  };
}

function parseKeyRecord(record: string): PublicKey | undefined {
  if (record.length !== PUBLIC_KEY_SIZE * 2 || !/^[0-9a-fA-F]*$/.test(record)) return undefined;
  return asPublicKey(fromHex(record));
}
