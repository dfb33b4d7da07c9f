// The machine's HTTP floor: the same load generator against a bare node:http
// server (in its own process) that reads each body and answers 202, as
// add-leaf does, with no work in between. add-leaf's main-thread CPU per
// request is read against this floor: the difference is what our code adds.
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './proc.js';
import { postAll } from './http-load.js';

const SERVER_ARG = '--floor-server';

function serveFloor(): void {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      Buffer.concat(chunks);
      res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '9' });
      res.end('Accepted\n');
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
  process.on('disconnect', () => process.exit(0));
}

/** Requests/s and server CPU µs per request of a bare node:http server, `bodies` posted over `concurrency` connections. */
export async function benchHttpFloor(bodies: readonly string[], concurrency: number): Promise<Record<string, number>> {
  const child = fork(fileURLToPath(import.meta.url), [SERVER_ARG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the floor server did not start within 10 s')), 10_000);
      child.once('message', (p) => {
        clearTimeout(timer);
        resolve(p as number);
      });
      child.once('exit', (code) => reject(new Error(`the floor server exited with ${code}`)));
    });
    const pid = child.pid as number;
    const before = cpuSeconds(pid);
    const { statuses, seconds } = await postAll('127.0.0.1', port, '/add-leaf', bodies, concurrency);
    const cpu = cpuSeconds(pid) - before;
    return {
      'node:http floor requests/s': statuses.length / seconds,
      'node:http floor server CPU µs per request': (cpu * 1e6) / statuses.length,
    };
  } finally {
    child.kill('SIGKILL');
  }
}

if (process.argv.includes(SERVER_ARG)) serveFloor();
