// Real child processes for integration tests: spawn the built sigsum-log
// binary, wait for readiness by reading its output, kill -9 it, and make sure
// nothing outlives the test file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/cli/main.js, next to this compiled file's dist/test/helpers/. */
export const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export class NodeProcess {
  private out = '';
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(readonly proc: ChildProcess, readonly name: string) {
    live.add(proc);
    const onData = (chunk: Buffer): void => {
      this.out += chunk.toString('utf8');
      for (const w of this.waiters) w();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code) => {
        live.delete(proc);
        for (const w of this.waiters) w();
        resolve(code);
      });
    });
  }

  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Waits until the combined output matches; rejects on timeout or exit. */
  waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.out.match(pattern);
        if (m !== null) {
          done();
          resolve(m);
          return true;
        }
        if (!this.running) {
          done();
          reject(new Error(`${this.name} exited (code ${this.proc.exitCode}) before printing ${pattern}; output:\n${this.out}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${this.out}`));
      }, timeoutMs);
      const waiter = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      this.waiters.push(waiter);
      check();
    });
  }

  /** kill -9, and wait for the process to be gone. */
  async kill9(): Promise<void> {
    if (this.running) this.proc.kill('SIGKILL');
    await this.exited;
  }

  async stop(timeoutMs = 10_000): Promise<number | null> {
    if (!this.running) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

export function spawnCli(args: string[], opts: { name?: string; env?: Record<string, string>; cwd?: string } = {}): NodeProcess {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new NodeProcess(proc, opts.name ?? args.join(' '));
}

/** Runs the CLI to completion (with a timeout) and returns its exit code and output. */
export async function runCli(args: string[], timeoutMs = 30_000, env?: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const p = spawnCli(args, { env });
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, output: p.output };
}

// Ports are picked below the kernel's ephemeral range (32768-60999 here, read
// at run time): a port from listen(0) is itself ephemeral, and between the
// pick and the node's bind an outgoing connection of a parallel test could
// take it (EADDRINUSE). Below the range only other explicit picks compete,
// and each pick is checked by binding it.
const EPHEMERAL_LOW = ((): number => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();
const PICK_LOW = 10_000;
const handedOut = new Set<number>();

function tryBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port that was free a moment ago on 127.0.0.1, never one an outgoing connection would take. */
export async function freePort(): Promise<number> {
  const span = Math.max(1000, EPHEMERAL_LOW - PICK_LOW);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PICK_LOW + Math.floor(Math.random() * span);
    if (handedOut.has(port)) continue;
    if (await tryBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found below the ephemeral range');
}

/** Polls `probe` until it returns a value other than undefined, or fails after timeoutMs. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface HttpResult {
  status: number;
  body: string;
  headers: Headers;
}

export async function http(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<HttpResult> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}
