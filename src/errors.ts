// Errors as typed classes. Each carries the HTTP status it maps to; the
// mapping to a response happens in one place (src/http/respond.ts).

export abstract class LogError extends Error {
  abstract readonly status: number;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Malformed request: bad syntax, out-of-range numbers, sizes beyond the tree. (400) */
export class BadRequestError extends LogError {
  readonly status = 400;
}
/** A signature or token that does not verify. (403) */
export class ForbiddenError extends LogError {
  readonly status = 403;
}
/** The thing asked for does not exist (leaf not in tree, unknown path, at end of tree). (404) */
export class NotFoundError extends LogError {
  readonly status = 404;
}
export class PayloadTooLargeError extends LogError {
  readonly status = 413;
}
/** A rate limit was exceeded. (429) */
export class RateLimitedError extends LogError {
  readonly status = 429;
}
/** The node is overloaded or not able to serve right now; retry later. (503) */
export class UnavailableError extends LogError {
  readonly status = 503;
  constructor(message: string, readonly retryAfterSeconds = 1) {
    super(message);
  }
}

/**
 * The log is frozen (lifecycle state frozen): it accepts no new leaves.
 * 503 without Retry-After: unavailable for submissions, with no promise of
 * when (doc/design.md, "Lifecycle").
 */
export class FrozenError extends LogError {
  readonly status = 503;
}

/** A configuration or startup problem the operator must fix. Never an HTTP answer. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * A request to another node failed: unreachable, timed out, an unexpected
 * status, or an answer that does not parse. Never an HTTP answer.
 */
export class UpstreamError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}
