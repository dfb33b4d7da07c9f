// Metric families whose samples are read at scrape time from the node's own
// state (the status model, plain-number counters), registered in a
// prom-client Registry next to its default process and Node.js metrics.
// prom-client formats the text (HELP, TYPE, escaping); nothing is counted
// through prom-client objects on a request path.
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import { LATENCY_BUCKETS, type StatusStats } from './http-metrics.js';
import { LIFECYCLE_STATES, type LifecycleState } from '../lifecycle.js';

export type Labels = Readonly<Record<string, string>>;
export interface Sample {
  labels?: Labels;
  value: number;
}
export interface HistogramSample {
  labels?: Labels;
  stats: StatusStats;
}

export type Family =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples(): readonly Sample[] }
  | { name: string; help: string; type: 'histogram'; samples(): readonly HistogramSample[] };

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A family in the shape prom-client's Registry reads from its metrics (name, help, type, get()). */
class CollectedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator = 'sum';

  constructor(private readonly family: Family) {
    this.name = family.name;
    this.help = family.help;
    this.type = family.type;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: PromValue[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  reset(): void {
    // The values belong to the node; a registry reset does not touch them.
  }

  private values(): PromValue[] {
    const f = this.family;
    if (f.type !== 'histogram') return f.samples().map((s) => ({ value: s.value, labels: { ...s.labels } }));
    const out: PromValue[] = [];
    for (const { labels, stats } of f.samples()) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += stats.buckets[i] as number;
        out.push({ metricName: `${f.name}_bucket`, value: cumulative, labels: { ...labels, le } });
      });
      out.push({ metricName: `${f.name}_bucket`, value: stats.count, labels: { ...labels, le: '+Inf' } });
      out.push({ metricName: `${f.name}_sum`, value: stats.sum, labels: { ...labels } });
      out.push({ metricName: `${f.name}_count`, value: stats.count, labels: { ...labels } });
    }
    return out;
  }
}

/** A registry with the default process and Node.js metrics and these families. */
export function buildRegistry(families: readonly Family[]): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client's totals of these are gauges named *_total, which promtool
  // rejects (only counters may end in _total); the per-type gauges they sum
  // (nodejs_active_handles{type} ...) stay, so sum() gives the same figure.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  // prom-client's Registry only reads name, help, type and get() from a metric.
  for (const f of families) registry.registerMetric(new CollectedFamily(f) as unknown as Metric);
  return registry;
}

/** One sample of value 1 naming the software version (the `*_info` idiom). */
export function buildInfoFamily(version: string): Family {
  return {
    name: 'sigsum_log_build_info',
    help: 'Always 1; the version label is the software version (package version and git commit), as sigsum-log --version prints it.',
    type: 'gauge',
    samples: () => [{ labels: { version }, value: 1 }],
  };
}

/**
 * The database's lifecycle state as an enum gauge: one sample per state, 1 for
 * the current one (states change only while the node is stopped).
 */
export function lifecycleStateFamily(state: LifecycleState): Family {
  return {
    name: 'sigsum_log_lifecycle_state',
    help: "1 for the database's lifecycle state (appending, replica or frozen), 0 for the others.",
    type: 'gauge',
    samples: () => LIFECYCLE_STATES.map((s) => ({ labels: { state: s }, value: s === state ? 1 : 0 })),
  };
}

/** A family with one unlabelled sample. */
export function single(name: string, help: string, type: 'counter' | 'gauge', value: () => number): Family {
  return { name, help, type, samples: () => [{ value: value() }] };
}
