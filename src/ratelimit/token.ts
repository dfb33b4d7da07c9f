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

export interface TokenVerifierOptions {
  /** This log's public key: the message every valid token signs. */
  readonly logPublicKey: PublicKey;
  readonly resolver: TxtResolver;
}

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

  return {
    async verify(headerValue: string): Promise<string> {
      const { domain, signature } = parseTokenHeader(headerValue);
      const { name, answer } = await lookup(domain);
      if (!answer.found || answer.records.length === 0) {
        throw new ForbiddenError(`${TOKEN_HEADER}: no TXT record at ${name}`);
      }
      const tried = answer.records.slice(0, MAX_KEYS);
      let malformed = 0;
      for (const record of tried) {
        const key = parseKeyRecord(record);
        if (key === undefined) {
          malformed++;
          continue;
        }
        if (ed25519Verify(key, message, signature)) return domain.name;
      }
      const ignored = answer.records.length - tried.length;
      throw new ForbiddenError(
        `${TOKEN_HEADER} for ${domain.name} does not verify with any key at ${name}` +
          ` (${tried.length - malformed} key(s) tried, ${malformed} malformed record(s), ${ignored} ignored beyond ${MAX_KEYS})`,
      );
    },
  };
}

function parseKeyRecord(record: string): PublicKey | undefined {
  if (record.length !== PUBLIC_KEY_SIZE * 2 || !/^[0-9a-fA-F]*$/.test(record)) return undefined;
  return asPublicKey(fromHex(record));
}
