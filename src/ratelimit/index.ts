// Rate limiting for add-leaf, following log-go (doc/rate-limit.md,
// internal/rate-limit) and the Sigsum log spec (log.md section 4).
//
// How a request is classified and charged:
//
//  1. If the request has a `sigsum-token: <domain> <hex signature>` header,
//     and the rate-limit file has domain or public rules, and no key rule
//     covers the leaf's key (else the token could not change the answer and
//     is not looked at), it is verified first: a malformed header is 400, a signature that no
//     key in the TXT records at _sigsum_v1.<domain> verifies is 403 (log-go
//     answers 400 here), DNS failure is 503. A verified token yields the
//     normalized domain. Without the header there is no domain.
//  2. The submitter is then matched, first hit wins:
//       a. a `key` line for the hash of the key that signed the leaf;
//       b. the longest `domain` line equal to the token domain or a parent
//          of it (all its subdomains share that line's counter);
//       c. with a `public` line, the token domain's registered domain
//          (public suffix + one label), each with its own counter at the
//          public limit;
//       d. nothing matches: refused with 429, like an exhausted limit (as in
//          log-go). test.sigsum.org is banned unless allowTestDomain is set.
//  3. RateLimiter.admit() charges one leaf to that counter, or throws 429
//     naming the limit if the counter already holds `limit` leaves in the
//     sliding 24 h window. Only new leaves count: the caller calls refund()
//     when storage reports the leaf was already known (a resubmission while
//     waiting for 200) or when storing fails. log-go does the same
//     (AccessAllowed before storing, relax() if the leaf already exists).
//
// Suggested order in the add-leaf handler: parse the body and verify the
// leaf signature (cheap, and a bad request should not use up quota), verify
// the token, admit, store, refund if not new. A resubmission of a known leaf
// is still refused while its submitter's counter is full, as in log-go,
// unless the handler checks for the leaf before calling admit().
//
// Counts are kept in memory and a restart resets them, as in log-go (which
// also clears all counts every 24 h instead of sliding a window).
export { loadRateLimitFile, parseRateLimitConfig, TEST_DOMAIN, type RateLimitConfig, type LoadOptions, type ParseOptions } from './config.js';
export { parsePublicSuffixList, type PublicSuffixList } from './public-suffix.js';
export {
  createTokenVerifier,
  parseTokenHeader,
  submitTokenMessage,
  TOKEN_HEADER,
  type TokenHeader,
  type TokenSignatureVerifier,
  VERDICT_TTL_MS,
  type TokenVerifier,
  type TokenVerifierOptions,
} from './token.js';
export {
  cachingResolver,
  concurrencyLimitedResolver,
  MAX_CONCURRENT_LOOKUPS,
  createDnsResolver,
  createTxtResolver,
  parseResolverAddress,
  type CacheOptions,
  type DnsResolverOptions,
  type TxtAnswer,
  type TxtResolver,
} from './dns.js';
export { classify, RateLimiter, type Admission, type Charge, type Submitter } from './limiter.js';
