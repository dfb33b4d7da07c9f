// GET /health: whether a node does its job, in one line. Pure functions of
// the status model, so /health, status.json and the status page agree.

export interface Health {
  ok: boolean;
  /** "ok", or why not, in one line. */
  reason: string;
}

/**
 * A primary is healthy when its published head was cosigned (or, without
 * witnesses, signed by a successful rotation) within 3 × max(interval,
 * idle-interval). Until the first such event, the start-up time stands in,
 * so a node just started gets that long to get its first head cosigned.
 */
export function primaryHealth(p: {
  nowMs: number;
  startedAtMs: number;
  intervalMs: number;
  idleIntervalMs: number;
  /** Newest cosignature timestamp (ms) of the published head, when witnesses cosign. */
  cosignedAtMs: number | undefined;
  cosigning: boolean;
  /** Last rotation that did not fail, when no witnesses cosign. */
  rotatedAtMs: number | undefined;
}): Health {
  const limitMs = 3 * Math.max(p.intervalMs, p.idleIntervalMs);
  const what = p.cosigning ? 'cosigned' : 'signed by a successful rotation';
  const lastMs = p.cosigning ? p.cosignedAtMs : p.rotatedAtMs;
  const since = p.nowMs - (lastMs ?? p.startedAtMs);
  // Cosignature timestamps are whole seconds (truncated): up to 1 s of slack, or a
  // healthy log with a short interval would flap.
  const slackMs = p.cosigning && lastMs !== undefined ? 1000 : 0;
  if (since <= limitMs + slackMs) return { ok: true, reason: 'ok' };
  const when = lastMs === undefined ? `not ${what} since start-up ${seconds(since)} ago` : `last ${what} ${seconds(since)} ago`;
  return { ok: false, reason: `published tree head ${when} (limit ${seconds(limitMs)})` };
}

/** A secondary is healthy when a replication step caught up with its upstream within 3 × interval. */
export function secondaryHealth(s: {
  nowMs: number;
  startedAtMs: number;
  intervalMs: number;
  lastSyncedAtMs: number | undefined;
  diverged: string | undefined;
  lastError: string | undefined;
}): Health {
  if (s.diverged !== undefined) return { ok: false, reason: `replication stopped: ${s.diverged}` };
  const limitMs = 3 * s.intervalMs;
  const since = s.nowMs - (s.lastSyncedAtMs ?? s.startedAtMs);
  if (since <= limitMs) return { ok: true, reason: 'ok' };
  const when = s.lastSyncedAtMs === undefined ? `not caught up with the upstream since start-up ${seconds(since)} ago` : `last caught up with the upstream ${seconds(since)} ago`;
  return { ok: false, reason: `${when} (limit ${seconds(limitMs)})${s.lastError === undefined ? '' : `; last error: ${s.lastError}`}` };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
