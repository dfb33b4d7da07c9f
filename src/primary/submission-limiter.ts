// Rate limits and submit tokens for add-leaf: log-go's rate-limit file, the
// sigsum-token header checked against _sigsum_v1.<domain> TXT records.
// A token is verified only when it can change the answer: there is a
// rate-limit file, it has domain or public rules, and no key rule covers the
// leaf's key (key rules come first). Otherwise a token costs nothing: no DNS
// lookup, no signature check (log-go verifies every token sent; a flood of
// bogus tokens would then cost DNS and CPU on a log that ignores them).
import { createTokenVerifier, createTxtResolver, loadRateLimitFile, RateLimiter, type TokenVerifier } from '../ratelimit/index.js';
import { toHex } from '../hex.js';
import type { Hash } from '../types.js';
import type { ExtensionContext } from './extensions.js';
import type { SubmissionLimiter } from './log-service.js';

export async function buildSubmissionLimiter(ctx: ExtensionContext): Promise<SubmissionLimiter | undefined> {
  const { config, logPublicKey, log } = ctx;
  if (config.primary.rateLimitFile === '') {
    log.info('no rate-limit-file: submissions are not rate limited, and submit tokens are not looked at');
    return undefined;
  }
  const rules = loadRateLimitFile(config.primary.rateLimitFile, { allowTestDomain: config.primary.allowTestDomain });
  const limiter = new RateLimiter(rules);
  const usesDomains = rules.public !== undefined || [...rules.domains.values()].some((limit) => limit > 0);
  let tokens: TokenVerifier | undefined;
  if (usesDomains) {
    const resolver = createTxtResolver({ server: config.primary.dnsResolver, timeoutMs: config.timeoutMs });
    tokens = createTokenVerifier({ logPublicKey, resolver, ...(ctx.verify === undefined ? {} : { verify: ctx.verify }) });
  } else {
    log.info('rate-limit-file has no domain or public rules: submit tokens are not looked at');
  }
  return {
    async admit(submitterKeyHash: Hash, tokenHeader: string | undefined) {
      const keyId = toHex(submitterKeyHash);
      const domain = tokens === undefined || tokenHeader === undefined || rules.keys.has(keyId) ? undefined : await tokens.verify(tokenHeader);
      const admission = limiter.admit({ keyHash: submitterKeyHash, ...(domain === undefined ? {} : { domain }) });
      log.debug(`add-leaf from key ${keyId.slice(0, 16)}… charged to ${admission.charge.kind} ${admission.charge.subject}`);
      return admission;
    },
  };
}
