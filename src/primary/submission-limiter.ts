// Rate limits and submit tokens for add-leaf: log-go's rate-limit file, the
// sigsum-token header checked against _sigsum_v1.<domain> TXT records.
// Without a rate-limit file there are no limits, but a token that is sent is
// still verified (as log-go does), so a client learns about a bad one.
import { createTokenVerifier, createTxtResolver, loadRateLimitFile, RateLimiter, type TokenVerifier } from '../ratelimit/index.js';
import { toHex } from '../hex.js';
import type { Hash } from '../types.js';
import type { ExtensionContext } from './extensions.js';
import type { SubmissionLimiter } from './log-service.js';

const NO_REFUND = { refund: () => undefined };

export async function buildSubmissionLimiter(ctx: ExtensionContext): Promise<SubmissionLimiter | undefined> {
  const { config, logPublicKey, log } = ctx;
  const resolver = createTxtResolver({ server: config.primary.dnsResolver, timeoutMs: config.timeoutMs });
  const tokens: TokenVerifier = createTokenVerifier({ logPublicKey, resolver });
  const limiter =
    config.primary.rateLimitFile === ''
      ? undefined
      : new RateLimiter(loadRateLimitFile(config.primary.rateLimitFile, { allowTestDomain: config.primary.allowTestDomain }));
  if (limiter === undefined) log.info('no rate-limit-file: submissions are not rate limited');
  return {
    async admit(submitterKeyHash: Hash, tokenHeader: string | undefined) {
      const domain = tokenHeader === undefined ? undefined : await tokens.verify(tokenHeader);
      if (limiter === undefined) return NO_REFUND;
      const admission = limiter.admit({ keyHash: submitterKeyHash, ...(domain === undefined ? {} : { domain }) });
      log.debug(`add-leaf from key ${toHex(submitterKeyHash).slice(0, 16)}… charged to ${admission.charge.kind} ${admission.charge.subject}`);
      return admission;
    },
  };
}
