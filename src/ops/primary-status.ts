// The primary's status model: one object fed by the node's instrumentation
// (replication gate, witness cosigner, rotations, HTTP counters) and read by
// /metrics, /health, status.json and both pages, so they never disagree.
// Reading is done at request time from live sources; nothing here runs per
// add-leaf request.
import type { CosignedTreeHead } from '../formats/tree-head.js';
import { toHex } from '../hex.js';
import { primaryHealth, type Health } from './health.js';
import { httpFamilies, HttpMetrics, StatusStats } from './http-metrics.js';
import { single, type Family, type HistogramSample, type Sample } from './exposition.js';
import { MinuteRate, SAMPLE_EVERY_MS } from './rate.js';
import type { LifecycleState } from '../lifecycle.js';

export type RotationOutcome = 'published' | 'unchanged' | 'gate_held' | 'quorum_not_met' | 'failed';
const ROTATION_OUTCOMES: readonly RotationOutcome[] = ['published', 'unchanged', 'gate_held', 'quorum_not_met', 'failed'];

/** The public routes log-go counts in sigsum_log_go_http_*. */
export const PUBLIC_COUNTED_ENDPOINTS: ReadonlySet<string> = new Set(['add-leaf', 'get-tree-head', 'get-inclusion-proof', 'get-consistency-proof', 'get-leaves']);

/** What the model reads from the running primary. */
export interface PrimarySources {
  localSize(): number;
  published(): CosignedTreeHead;
  pending(): number;
  verifyQueueDepth(): number;
  /** Whether witnesses cosign (a policy with a quorum). */
  cosigning: boolean;
  /** Counters kept by the sequencer. */
  sequencer: { readonly batches: number; readonly sequencedLeaves: number; readonly pushbacks: number };
}

export interface PrimaryStatusSettings {
  version: string;
  lifecycleState: LifecycleState;
  logKeyHashHex: string;
  intervalMs: number;
  idleIntervalMs: number;
  nowMs?: () => number;
}

interface SecondaryRecord {
  url: string;
  size: number | undefined;
  reachable: boolean | undefined;
  errorClass: string | undefined;
  error: string | undefined;
  answeredAtMs: number | undefined;
  /** Last time its size covered the whole local tree (for its lag in seconds). */
  caughtUpAtMs: number | undefined;
  errors: Map<string, number>;
}

interface WitnessRecord {
  name: string;
  url: string;
  /** log-go's witness label: the URL without http:// or https://. */
  label: string;
  keyHashHex: string;
  cosignedSize: number | undefined;
  lastAnswer: string | undefined;
  answeredAtMs: number | undefined;
  error: string | undefined;
  latency: StatusStats;
}

export interface SecondaryStatusJson {
  url: string;
  replicatedSize: number | null;
  lagLeaves: number | null;
  lagSeconds: number | null;
  reachable: boolean | null;
  lastErrorClass: string | null;
  lastError: string | null;
  lastAnswerTime: number | null;
}

export interface WitnessStatusJson {
  name: string;
  url: string;
  keyHash: string;
  lastCosignedSize: number | null;
  lastAnswer: string | null;
  lastAnswerTime: number | null;
  lastError: string | null;
  cosignedPublishedHead: boolean;
}

export interface PrimaryStatusJson {
  role: 'primary';
  version: string;
  /** appending or frozen (see doc/design.md, Lifecycle). */
  lifecycleState: LifecycleState;
  time: number;
  startTime: number;
  uptimeSeconds: number;
  logKeyHash: string;
  localSize: number;
  publishedSize: number;
  publishedRootHash: string;
  newestCosignatureTime: number | null;
  headAgeSeconds: number | null;
  lastRotation: { outcome: RotationOutcome; time: number } | null;
  pendingLeaves: number;
  verifyQueueDepth: number;
  addLeafRequestsPerSecond: number;
  sequencedLeavesPerSecond: number;
  secondaries: SecondaryStatusJson[];
  witnesses: WitnessStatusJson[];
  health: Health;
}

export function witnessLabel(url: string): string {
  return url.replace(/^https:\/\//, '').replace(/^http:\/\//, '');
}

export class PrimaryStatus {
  readonly http = new HttpMetrics(PUBLIC_COUNTED_ENDPOINTS);
  readonly startedAtMs: number;
  private sources: PrimarySources | undefined;
  private readonly now: () => number;
  private readonly secondaries = new Map<string, SecondaryRecord>();
  private readonly witnesses = new Map<string, WitnessRecord>();
  /** witness label → "status retried" → count. */
  private readonly witnessRequests = new Map<string, Map<string, { status: string; retried: boolean; count: number }>>();
  private readonly quorums = { true: 0, false: 0 };
  private readonly quorumLatency = new StatusStats();
  private readonly rotations = new Map<RotationOutcome, number>(ROTATION_OUTCOMES.map((o) => [o, 0]));
  private lastRotation: { outcome: RotationOutcome; atMs: number } | undefined;
  private lastGoodRotationAtMs: number | undefined;
  private readonly addLeafRate = new MinuteRate();
  private readonly sequencedRate = new MinuteRate();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly settings: PrimaryStatusSettings) {
    this.now = settings.nowMs ?? Date.now;
    this.startedAtMs = this.now();
  }

  /** Connects the live sources (built after the extensions that feed this model) and starts sampling rates. */
  attach(sources: PrimarySources): void {
    this.sources = sources;
    const sample = (): void => {
      const at = this.now();
      this.addLeafRate.sample(at, this.http.endpoint('add-leaf').requests);
      this.sequencedRate.sample(at, sources.sequencer.sequencedLeaves);
    };
    sample();
    this.timer = setInterval(sample, SAMPLE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  private get src(): PrimarySources {
    if (this.sources === undefined) throw new Error('status model read before the node was wired');
    return this.sources;
  }

  // --- fed by the replication gate (GateObserver) ---

  secondaryCounted(name: string, size: number): void {
    const r = this.secondary(name);
    const at = this.now();
    Object.assign(r, { size, reachable: true, errorClass: undefined, error: undefined, answeredAtMs: at });
    if (this.sources === undefined || size >= this.sources.localSize()) r.caughtUpAtMs = at;
  }

  secondaryRefused(name: string, kind: string, message: string): void {
    const r = this.secondary(name);
    r.errorClass = kind;
    r.error = message;
    r.errors.set(kind, (r.errors.get(kind) ?? 0) + 1);
    if (kind === 'unreachable') r.reachable = false;
    else {
      r.reachable = true;
      r.answeredAtMs = this.now();
    }
  }

  private secondary(name: string): SecondaryRecord {
    let r = this.secondaries.get(name);
    if (r === undefined) {
      r = { url: name, size: undefined, reachable: undefined, errorClass: undefined, error: undefined, answeredAtMs: undefined, caughtUpAtMs: undefined, errors: new Map() };
      this.secondaries.set(name, r);
    }
    return r;
  }

  // --- fed by the witness cosigner (CosignObserver) ---

  witnessesConfigured(list: ReadonlyArray<{ name: string; url: string; keyHashHex: string; storedCosignedSize: number }>): void {
    for (const { storedCosignedSize, ...w } of list) {
      const r = this.witness(w);
      if (r.cosignedSize === undefined && storedCosignedSize > 0) r.cosignedSize = storedCosignedSize;
    }
  }

  witnessAnswered(
    w: { name: string; url: string; keyHashHex: string },
    report: { size: number; ok: boolean; kind?: string; reason?: string; status: string; retried: boolean; seconds: number },
  ): void {
    const r = this.witness(w);
    r.answeredAtMs = this.now();
    if (report.ok) {
      r.cosignedSize = report.size;
      r.lastAnswer = 'cosigned';
      r.error = undefined;
      r.latency.observe(report.seconds);
    } else {
      r.lastAnswer = report.kind ?? 'failed';
      r.error = report.reason;
    }
    let byStatus = this.witnessRequests.get(r.label);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.witnessRequests.set(r.label, byStatus);
    }
    const key = `${report.status} ${report.retried}`;
    const c = byStatus.get(key) ?? { status: report.status, retried: report.retried, count: 0 };
    c.count++;
    byStatus.set(key, c);
  }

  quorum(reached: boolean, seconds: number | undefined): void {
    this.quorums[reached ? 'true' : 'false']++;
    if (reached && seconds !== undefined) this.quorumLatency.observe(seconds);
  }

  private witness(w: { name: string; url: string; keyHashHex: string }): WitnessRecord {
    let r = this.witnesses.get(w.name);
    if (r === undefined) {
      r = { ...w, label: witnessLabel(w.url), cosignedSize: undefined, lastAnswer: undefined, answeredAtMs: undefined, error: undefined, latency: new StatusStats() };
      this.witnesses.set(w.name, r);
    }
    return r;
  }

  // --- fed by the rotation loop ---

  rotated(outcome: RotationOutcome): void {
    const at = this.now();
    this.rotations.set(outcome, (this.rotations.get(outcome) ?? 0) + 1);
    this.lastRotation = { outcome, atMs: at };
    if (outcome !== 'failed') this.lastGoodRotationAtMs = at;
  }

  // --- read side ---

  /** Names of the configured witnesses whose cosignature is on the head. */
  cosignedBy(head: CosignedTreeHead): string[] {
    const byKey = new Map([...this.witnesses.values()].map((w) => [w.keyHashHex, w.name]));
    return head.cosignatures.map((c) => byKey.get(toHex(c.keyHash)) ?? `unknown witness ${toHex(c.keyHash).slice(0, 16)}…`);
  }

  health(): Health {
    const head = this.src.published();
    return primaryHealth({
      nowMs: this.now(),
      startedAtMs: this.startedAtMs,
      intervalMs: this.settings.intervalMs,
      idleIntervalMs: this.settings.idleIntervalMs,
      cosigning: this.src.cosigning,
      cosignedAtMs: newestCosignature(head) === undefined ? undefined : (newestCosignature(head) as number) * 1000,
      rotatedAtMs: this.lastGoodRotationAtMs,
    });
  }

  snapshot(): PrimaryStatusJson {
    const s = this.src;
    const nowMs = this.now();
    const head = s.published();
    const localSize = s.localSize();
    const newest = newestCosignature(head);
    const cosigners = new Set(head.cosignatures.map((c) => toHex(c.keyHash)));
    return {
      role: 'primary',
      version: this.settings.version,
      lifecycleState: this.settings.lifecycleState,
      time: Math.floor(nowMs / 1000),
      startTime: Math.floor(this.startedAtMs / 1000),
      uptimeSeconds: Math.floor((nowMs - this.startedAtMs) / 1000),
      logKeyHash: this.settings.logKeyHashHex,
      localSize,
      publishedSize: head.size,
      publishedRootHash: toHex(head.rootHash),
      newestCosignatureTime: newest ?? null,
      headAgeSeconds: newest === undefined ? null : Math.max(0, Math.floor(nowMs / 1000) - newest),
      lastRotation: this.lastRotation === undefined ? null : { outcome: this.lastRotation.outcome, time: Math.floor(this.lastRotation.atMs / 1000) },
      pendingLeaves: s.pending(),
      verifyQueueDepth: s.verifyQueueDepth(),
      addLeafRequestsPerSecond: round1(this.addLeafRate.perSecond(nowMs, this.http.endpoint('add-leaf').requests)),
      sequencedLeavesPerSecond: round1(this.sequencedRate.perSecond(nowMs, s.sequencer.sequencedLeaves)),
      secondaries: [...this.secondaries.values()].map((r) => ({
        url: r.url,
        replicatedSize: r.size ?? null,
        lagLeaves: r.size === undefined ? null : Math.max(0, localSize - r.size),
        lagSeconds: r.size === undefined ? null : r.size >= localSize ? 0 : Math.floor((nowMs - (r.caughtUpAtMs ?? this.startedAtMs)) / 1000),
        reachable: r.reachable ?? null,
        lastErrorClass: r.errorClass ?? null,
        lastError: r.error ?? null,
        lastAnswerTime: r.answeredAtMs === undefined ? null : Math.floor(r.answeredAtMs / 1000),
      })),
      witnesses: [...this.witnesses.values()].map((r) => ({
        name: r.name,
        url: r.url,
        keyHash: r.keyHashHex,
        lastCosignedSize: r.cosignedSize ?? null,
        lastAnswer: r.lastAnswer ?? null,
        lastAnswerTime: r.answeredAtMs === undefined ? null : Math.floor(r.answeredAtMs / 1000),
        lastError: r.error ?? null,
        cosignedPublishedHead: cosigners.has(r.keyHashHex),
      })),
      health: this.health(),
    };
  }

  /** Every metric family of a primary, read from this model at scrape time. */
  families(): Family[] {
    const s = (): PrimarySources => this.src;
    const http = this.http;
    const addLeaf = (): ReturnType<HttpMetrics['endpoint']> => http.endpoint('add-leaf');
    return [
      ...httpFamilies(http),
      {
        name: 'sigsum_log_go_witness_checkpoint_requests_total',
        help: 'number of witness add-checkpoint requests (log-go): status is 200, the witness\'s HTTP error status, or other; retried is true after a 409 resend',
        type: 'counter',
        samples: () =>
          [...this.witnessRequests.entries()].flatMap(([witness, m]) =>
            [...m.values()].map((c): Sample => ({ labels: { witness, status: c.status, retried: String(c.retried) }, value: c.count })),
          ),
      },
      {
        name: 'sigsum_log_go_witness_checkpoint_request_latency',
        help: 'witness add-checkpoint latency on success, in seconds, 409 resend included (log-go)',
        type: 'histogram',
        samples: () => [...this.witnesses.values()].filter((w) => w.latency.count > 0).map((w): HistogramSample => ({ labels: { witness: w.label }, stats: w.latency })),
      },
      {
        name: 'sigsum_log_go_witness_quorum_total',
        help: 'number of witness quorum attempts (log-go): status true when the cosignatures met the policy quorum',
        type: 'counter',
        samples: () => [
          { labels: { status: 'true' }, value: this.quorums.true },
          { labels: { status: 'false' }, value: this.quorums.false },
        ],
      },
      {
        name: 'sigsum_log_go_witness_quorum_latency',
        help: 'seconds from the start of a cosigning round until the cosignature completing the quorum arrived; successful rounds only (log-go)',
        type: 'histogram',
        samples: () => (this.quorums.true + this.quorums.false > 0 ? [{ stats: this.quorumLatency }] : []),
      },
      single('sigsum_log_local_tree_size', 'leaves in the local tree (sequenced, durable; may be ahead of the published head)', 'gauge', () => s().localSize()),
      single('sigsum_log_published_tree_size', 'size of the published tree head (what get-tree-head serves)', 'gauge', () => s().published().size),
      single(
        'sigsum_log_published_cosignature_timestamp_seconds',
        'Unix time of the newest witness cosignature on the published tree head (0 when it has none); head age = time() - this',
        'gauge',
        () => newestCosignature(s().published()) ?? 0,
      ),
      {
        name: 'sigsum_log_secondary_replicated_tree_size',
        help: 'tree size a secondary last reported, signed and consistent (the replication gate counts it)',
        type: 'gauge',
        samples: () => [...this.secondaries.values()].filter((r) => r.size !== undefined).map((r) => ({ labels: { secondary: r.url }, value: r.size as number })),
      },
      {
        name: 'sigsum_log_secondary_reachable',
        help: '1 when the secondary answered the last replication-gate request, 0 when it could not be reached',
        type: 'gauge',
        samples: () => [...this.secondaries.values()].filter((r) => r.reachable !== undefined).map((r) => ({ labels: { secondary: r.url }, value: r.reachable ? 1 : 0 })),
      },
      {
        name: 'sigsum_log_secondary_last_error',
        help: '1, labelled with the class of the last replication-gate answer of the secondary: none, unreachable, signature, ahead or inconsistent',
        type: 'gauge',
        samples: () =>
          [...this.secondaries.values()].filter((r) => r.answeredAtMs !== undefined || r.errorClass !== undefined).map((r) => ({ labels: { secondary: r.url, class: r.errorClass ?? 'none' }, value: 1 })),
      },
      {
        name: 'sigsum_log_secondary_errors_total',
        help: 'replication-gate answers of a secondary that did not count, by class',
        type: 'counter',
        samples: () => [...this.secondaries.values()].flatMap((r) => [...r.errors.entries()].map(([c, n]) => ({ labels: { secondary: r.url, class: c }, value: n }))),
      },
      single('sigsum_log_pending_leaves', 'leaves accepted (202) and waiting in the pending pool to be sequenced', 'gauge', () => s().pending()),
      single('sigsum_log_verify_queue_depth', 'add-leaf signature checks waiting for or held by a verify worker', 'gauge', () => s().verifyQueueDepth()),
      single('sigsum_log_sequenced_batches_total', 'batches the sequencer committed', 'counter', () => s().sequencer.batches),
      single('sigsum_log_sequenced_leaves_total', 'leaves in the batches the sequencer committed', 'counter', () => s().sequencer.sequencedLeaves),
      {
        name: 'sigsum_log_rotations_total',
        help: 'tree-head rotations by outcome: published, unchanged, gate_held, quorum_not_met, failed',
        type: 'counter',
        samples: () => ROTATION_OUTCOMES.map((outcome) => ({ labels: { outcome }, value: this.rotations.get(outcome) ?? 0 })),
      },
      single('sigsum_log_add_leaf_pushback_total', 'add-leaf requests answered 503 because the pending pool was full (max-pending)', 'counter', () => s().sequencer.pushbacks),
      single('sigsum_log_add_leaf_rate_limited_total', 'add-leaf requests answered 429 (rate limit)', 'counter', () => addLeaf().responses(429)),
      {
        name: 'sigsum_log_witness_cosigned_size',
        help: 'tree size the witness last cosigned for this log (since this process started)',
        type: 'gauge',
        samples: () => [...this.witnesses.values()].filter((w) => w.cosignedSize !== undefined).map((w) => ({ labels: { witness: w.label }, value: w.cosignedSize as number })),
      },
    ];
  }
}

function newestCosignature(head: CosignedTreeHead): number | undefined {
  if (head.cosignatures.length === 0) return undefined;
  return Math.max(...head.cosignatures.map((c) => c.timestamp));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
