// `promtool check metrics` on a /metrics body: the problems it reports,
// except the one lint log-go's own names draw. log-go's counters
// sigsum_log_go_http_req and sigsum_log_go_http_rsp have no _total suffix;
// we keep their names exactly so that dashboards keep working, so that lint
// (and only that one, on those names) is expected.
import { spawn } from 'node:child_process';

const LOG_GO_NAMES_WITHOUT_TOTAL = /^sigsum_log_go_http_(req|rsp) counter metrics should have "_total" suffix$/;

export function promtoolProblems(promtool: string, body: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(timer);
      const problems = out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !LOG_GO_NAMES_WITHOUT_TOTAL.test(l));
      // 0: clean; 3: lint problems only (listed). Anything else (1: unparsable) is a problem in itself.
      if (code !== 0 && code !== 3) problems.unshift(`promtool exited ${code}`);
      if (code === 3 && problems.length === 0 && !LOG_GO_NAMES_WITHOUT_TOTAL.test(out.trim().split('\n')[0] ?? '')) problems.push('promtool exited 3 without naming a problem');
      resolve(problems);
    });
    p.stdin.end(body);
  });
}
