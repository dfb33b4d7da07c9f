// The secondary's status model: fed by its replication loop (each step's
// outcome, the upstream's answers) and read by /metrics, /health and
// status.json, so they agree.
import { secondaryHealth, type Health } from './health.js';
import { single, type Family } from './exposition.js';
import { httpFamilies, HttpMetrics } from './http-metrics.js';

/** The internal routes log-go's secondary counts (its get-secondary-tree-head), and our name for it. */
export const SECONDARY_COUNTED_ENDPOINTS: ReadonlySet<string> = new Set(['get-secondary-tree-head', 'get-tree-head-to-cosign']);

export interface SecondarySources {
  /** Leaves stored locally. */
  replicatedSize(): number;
  /** Size of the head verified against the upstream (what this node serves). */
  verifiedSize(): number;
  diverged(): boolean;
  /** A read replica's published head: its size, and when the upstream last confirmed it (ms; undefined: not since start). */
  publishedHead?(): { size: number; confirmedAtMs: number | undefined } | undefined;
}

export interface SecondaryStatusSettings {
  version: string;
  upstream: string;
  intervalMs: number;
  nowMs?: () => number;
}

export interface SecondaryStatusJson {
  role: 'secondary';
  version: string;
  /** Always replica: a secondary's database is a replica's. */
  lifecycleState: 'replica';
  time: number;
  startTime: number;
  uptimeSeconds: number;
  upstream: string;
  upstreamSize: number | null;
  replicatedSize: number;
  verifiedSize: number;
  lagLeaves: number | null;
  lagSeconds: number | null;
  lastSyncTime: number | null;
  lastErrorClass: string | null;
  lastError: string | null;
  /** A read replica's published head (null: none kept), and seconds since the upstream last confirmed it (null: not since start). */
  publishedSize: number | null;
  publishedHeadAgeSeconds: number | null;
  health: Health;
}

export class SecondaryStatus {
  readonly http = new HttpMetrics(SECONDARY_COUNTED_ENDPOINTS);
  readonly startedAtMs: number;
  private sources: SecondarySources | undefined;
  private readonly now: () => number;
  private upstreamSize: number | undefined;
  private lastSyncedAtMs: number | undefined;
  private errorClass: string | undefined;
  private error: string | undefined;
  private readonly steps = new Map<string, number>();

  constructor(readonly settings: SecondaryStatusSettings) {
    this.now = settings.nowMs ?? Date.now;
    this.startedAtMs = this.now();
  }

  attach(sources: SecondarySources): void {
    this.sources = sources;
  }

  private get src(): SecondarySources {
    if (this.sources === undefined) throw new Error('status model read before the node was wired');
    return this.sources;
  }

  /** The upstream reported its tree size. */
  upstreamAnswered(size: number): void {
    this.upstreamSize = size;
  }

  /** A request to the upstream failed. */
  upstreamFailed(message: string): void {
    this.error = message;
  }

  /** A replication step ended: synced, upstream-unavailable, upstream-behind, stopped or diverged. */
  stepEnded(outcome: string): void {
    this.steps.set(outcome, (this.steps.get(outcome) ?? 0) + 1);
    if (outcome === 'synced') {
      this.lastSyncedAtMs = this.now();
      this.errorClass = undefined;
      this.error = undefined;
    } else if (outcome !== 'stopped') {
      this.errorClass = outcome;
      if (outcome === 'upstream-behind') this.error = `upstream reports ${this.upstreamSize} leaves, fewer than the ${this.src.verifiedSize()} verified here`;
      if (outcome === 'diverged') this.error = 'this node and its upstream hold different trees (see the log)';
    }
  }

  /** A step threw (a local failure, e.g. the disk). */
  stepFailed(message: string): void {
    this.steps.set('failed', (this.steps.get('failed') ?? 0) + 1);
    this.errorClass = 'failed';
    this.error = message;
  }

  health(): Health {
    return secondaryHealth({
      nowMs: this.now(),
      startedAtMs: this.startedAtMs,
      intervalMs: this.settings.intervalMs,
      lastSyncedAtMs: this.lastSyncedAtMs,
      diverged: this.src.diverged() ? 'this node diverged from its upstream' : undefined,
      lastError: this.error,
    });
  }

  snapshot(): SecondaryStatusJson {
    const nowMs = this.now();
    const verified = this.src.verifiedSize();
    const behind = this.upstreamSize === undefined ? undefined : Math.max(0, this.upstreamSize - verified);
    return {
      role: 'secondary',
      version: this.settings.version,
      lifecycleState: 'replica',
      time: Math.floor(nowMs / 1000),
      startTime: Math.floor(this.startedAtMs / 1000),
      uptimeSeconds: Math.floor((nowMs - this.startedAtMs) / 1000),
      upstream: this.settings.upstream,
      upstreamSize: this.upstreamSize ?? null,
      replicatedSize: this.src.replicatedSize(),
      verifiedSize: verified,
      lagLeaves: behind ?? null,
      lagSeconds: behind === undefined ? null : Math.floor((nowMs - (this.lastSyncedAtMs ?? this.startedAtMs)) / 1000),
      lastSyncTime: this.lastSyncedAtMs === undefined ? null : Math.floor(this.lastSyncedAtMs / 1000),
      lastErrorClass: this.errorClass ?? null,
      lastError: this.error ?? null,
      publishedSize: this.src.publishedHead?.()?.size ?? null,
      publishedHeadAgeSeconds: this.publishedAgeSeconds(nowMs) ?? null,
      health: this.health(),
    };
  }

  private publishedAgeSeconds(nowMs: number): number | undefined {
    const at = this.src.publishedHead?.()?.confirmedAtMs;
    return at === undefined ? undefined : Math.max(0, Math.floor((nowMs - at) / 1000));
  }

  families(): Family[] {
    return [
      ...httpFamilies(this.http),
      single('sigsum_log_local_tree_size', 'leaves in the local tree (on a secondary: replicated, stored)', 'gauge', () => this.src.replicatedSize()),
      single('sigsum_log_upstream_tree_size', 'tree size the upstream last reported (0 before its first answer)', 'gauge', () => this.upstreamSize ?? 0),
      single('sigsum_log_replicated_tree_size', 'leaves replicated and stored here', 'gauge', () => this.src.replicatedSize()),
      single('sigsum_log_verified_tree_size', "size of the head verified against the upstream's root (served to the primary)", 'gauge', () => this.src.verifiedSize()),
      single(
        'sigsum_log_last_sync_timestamp_seconds',
        'Unix time of the last replication step that caught up with the upstream (0: none yet)',
        'gauge',
        () => (this.lastSyncedAtMs === undefined ? 0 : this.lastSyncedAtMs / 1000),
      ),
      single('sigsum_log_replica_published_tree_size', 'size of the published head this node keeps (a read replica serves it); 0: none', 'gauge', () => this.src.publishedHead?.()?.size ?? 0),
      single(
        'sigsum_log_replica_published_head_age_seconds',
        'seconds since the upstream last confirmed the published head kept here (-1: not since start)',
        'gauge',
        () => this.publishedAgeSeconds(this.now()) ?? -1,
      ),
      {
        name: 'sigsum_log_replication_steps_total',
        help: 'replication steps by outcome: synced, upstream-unavailable, upstream-behind, diverged, stopped, failed',
        type: 'counter',
        samples: () => [...this.steps.entries()].map(([outcome, value]) => ({ labels: { outcome }, value })),
      },
    ];
  }
}
