// Go time.ParseDuration syntax ("10s", "250ms", "1m30s", "1.5h"), as log-go
// operators write it. Returns milliseconds. Sub-millisecond parts are kept as
// fractions; negative durations are refused (no setting here can use one).

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART_RE = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (text.length === 0) throw new Error('empty duration');
  let total = 0;
  PART_RE.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    PART_RE.lastIndex = pos;
    const m = PART_RE.exec(text);
    if (m === null) throw new Error(`invalid duration "${text}" (use Go syntax such as 10s, 250ms, 1m30s)`);
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    pos = PART_RE.lastIndex;
  }
  return total;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
