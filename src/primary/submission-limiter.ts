// Rate limits and submit tokens for add-leaf. (Placeholder until wired.)
import type { ExtensionContext } from './extensions.js';
import type { SubmissionLimiter } from './log-service.js';

export async function buildSubmissionLimiter(_ctx: ExtensionContext): Promise<SubmissionLimiter | undefined> {
  return undefined;
}
