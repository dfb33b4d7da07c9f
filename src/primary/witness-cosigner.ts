// Witness cosigning (C2SP tlog-witness). (Placeholder until the witness work lands.)
import { ConfigError } from '../errors.js';
import type { ExtensionContext } from './extensions.js';
import type { Cosigner } from './rotation.js';

/** undefined when no policy file is configured, or its quorum is none. */
export function buildCosigner(ctx: ExtensionContext): Cosigner | undefined {
  if (ctx.config.primary.policyFile === '') return undefined;
  throw new ConfigError('policy-file is not supported yet');
}
