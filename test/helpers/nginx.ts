// Debian's nginx as a plain static server over a directory, for tests: a
// generated config (daemon off, pid, logs and temp paths in a temp dir),
// listening on a free 127.0.0.1 port, killed in cleanup.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './log-fixture.js';
import { freePort, NodeProcess, waitUntil } from './node-process.js';
import { spawn } from 'node:child_process';

export interface RunningNginx {
  url: string;
  proc: NodeProcess;
}

/** Serves `root` (read-only, as files) on http://127.0.0.1:<free port>/. */
export async function startNginx(t: TestContext, bin: string, root: string): Promise<RunningNginx> {
  const dir = tempDir('sigsum-nginx-');
  t.after(() => dir.remove());
  const port = await freePort();
  for (const d of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir.path, d));
  const conf = join(dir.path, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir.path}/nginx.pid;
error_log ${dir.path}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir.path}/client;
  proxy_temp_path ${dir.path}/proxy;
  fastcgi_temp_path ${dir.path}/fastcgi;
  uwsgi_temp_path ${dir.path}/uwsgi;
  scgi_temp_path ${dir.path}/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location ~ /checkpoint$ { default_type "text/plain; charset=utf-8"; add_header Cache-Control no-cache; }
    location ~ /\\. { return 404; }
  }
}
`,
  );
  const child = spawn(bin, ['-p', dir.path, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new NodeProcess(child, `nginx ${conf}`);
  t.after(() => proc.kill9());
  const url = `http://127.0.0.1:${port}`;
  await waitUntil('nginx answers', async () => {
    if (!proc.running) throw new Error(`nginx exited: ${proc.output}`);
    const res = await fetch(`${url}/no-such-file`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 404 ? true : undefined;
  }, 15_000, 100);
  return { url, proc };
}
