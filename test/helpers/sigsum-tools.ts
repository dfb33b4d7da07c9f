// Finds the real Sigsum tools (sigsum-go) for interoperability tests and runs
// them with a hard timeout. Without the tools such tests skip visibly, unless
// SIGSUM_INTEROP=required, where a missing tool is a failure (for CI setups
// that must prove interoperability).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findExecutable } from './components.js';

const REQUIRED_TOOLS = ['sigsum-key', 'sigsum-submit', 'sigsum-verify', 'sigsum-monitor', 'sigsum-witness', 'sigsum-token'];
const FETCH_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_TOOL_TIMEOUT_MS = 30_000;

type Lookup = { bin: string } | { reason: string };
let cached: Lookup | undefined;

function missingTools(dir: string): string[] {
  return REQUIRED_TOOLS.filter((t) => {
    try {
      fs.accessSync(path.join(dir, t), fs.constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

/** The repo root, found upward from this file so it works from test/ and from dist/test/. */
function fetchScript(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'scripts', 'get-sigsum-go');
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function lookup(): Lookup {
  const fromEnv = process.env.SIGSUM_GO_BIN;
  if (fromEnv) {
    const missing = missingTools(fromEnv);
    return missing.length === 0 ? { bin: fromEnv } : { reason: `SIGSUM_GO_BIN=${fromEnv} lacks ${missing.join(', ')}` };
  }
  const home = path.join(os.homedir(), '.cache', 'sigsum-go', 'usr', 'bin');
  if (missingTools(home).length === 0) return { bin: home };

  const script = fetchScript();
  if (script === undefined) return { reason: 'scripts/get-sigsum-go not found' };
  const run = spawnSync(script, [], { encoding: 'utf8', timeout: FETCH_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.error) return { reason: `${script} could not run: ${run.error.message}` };
  if (run.status !== 0) {
    const tail = run.stderr.trim().split('\n').slice(-3).join(' | ');
    return { reason: `${script} exited with ${run.status ?? run.signal}: ${tail}` };
  }
  const bin = run.stdout.trim().split('\n').pop() ?? '';
  const missing = missingTools(bin);
  return missing.length === 0 ? { bin } : { reason: `${script} printed ${bin}, which lacks ${missing.join(', ')}` };
}

/**
 * The directory holding the real sigsum-go tools: $SIGSUM_GO_BIN, else
 * ~/.cache/sigsum-go/usr/bin, else whatever scripts/get-sigsum-go provides
 * (looked up once per process). When unavailable the test is marked skipped
 * and undefined is returned, so callers do `if (!bin) return;`. With
 * SIGSUM_INTEROP=required it throws instead, failing the test.
 */
export function sigsumTools(t: TestContext): string | undefined {
  cached ??= lookup();
  if ('bin' in cached) return cached.bin;
  const why = `sigsum-go tools unavailable: ${cached.reason}`;
  if (process.env.SIGSUM_INTEROP === 'required') {
    throw new Error(`${why} (SIGSUM_INTEROP=required, so this is a failure)`);
  }
  t.skip(why);
  return undefined;
}

/** Whether an executable is on PATH (for optional extras such as ssh-keygen); one lookup for every test helper. */
export const findOnPath = findExecutable;

export interface RunToolOptions {
  /** Written to the tool's stdin, which is then closed (it is closed at once without input). */
  input?: Buffer | string;
  /** The child is killed (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
  /** Added to (and overriding) the test process's environment. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface ToolResult {
  /** Exit code, or null when the tool died from a signal (including our timeout kill). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the tool was killed because it ran past timeoutMs. */
  timedOut: boolean;
}

// The Debian build of sigsum-go sets DefaultGODEBUG=httpmuxgo121=1, under which
// Go's ServeMux treats "POST /add-checkpoint" as a literal path: sigsum-witness
// then answers 404 to everything. Restoring the modern mux fixes it; clients
// are unaffected. A GODEBUG given by the caller or the environment wins.
const GODEBUG_FIX = 'httpmuxgo121=0';

function toolEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  return { GODEBUG: GODEBUG_FIX, ...process.env, ...extra };
}

function toolPath(binDir: string, name: string): string {
  return path.isAbsolute(name) ? name : path.join(binDir, name);
}

/**
 * Runs `binDir/name args...` to completion and captures its output. Never
 * hangs: past the timeout the child is killed, and if its pipes still do not
 * close shortly after, the result is returned anyway. Rejects only when the
 * program cannot be started at all.
 */
export function runTool(binDir: string, name: string, args: readonly string[], opts: RunToolOptions = {}): Promise<ToolResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(toolPath(binDir, name), args, {
      env: toolEnv(opts.env),
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A tool that exits without reading its input makes our write fail with EPIPE; that is its answer, not ours.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);

    let timedOut = false;
    let settled = false;
    let straggler: NodeJS.Timeout | undefined;
    const finish = (code: number | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(straggler);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (timedOut ? `\n[runTool: killed ${name} after ${timeoutMs} ms]` : ''),
        timedOut,
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      // A grandchild holding our pipes open would delay 'close' forever.
      straggler = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(null);
      }, 2000);
    }, timeoutMs);
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`cannot run ${toolPath(binDir, name)}: ${e.message}`));
    });
    child.on('close', (code) => finish(code));
  });
}

export interface RunningTool {
  readonly child: ChildProcess;
  /** Output so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when stdout+stderr so far match `re`; rejects on timeout or exit. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the final result. */
  stop(graceMs?: number): Promise<ToolResult>;
}

/**
 * Starts a long-running tool (sigsum-witness, sigsum-monitor) in the
 * background. Register `t.after(() => tool.stop())` so it never outlives
 * the test.
 */
export function startTool(
  binDir: string,
  name: string,
  args: readonly string[],
  opts: Omit<RunToolOptions, 'input' | 'timeoutMs'> = {},
): RunningTool {
  const child = spawn(toolPath(binDir, name), args, {
    env: toolEnv(opts.env),
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout!.on('data', (b: Buffer) => {
    out.push(b);
    notify();
  });
  child.stderr!.on('data', (b: Buffer) => {
    err.push(b);
    notify();
  });
  let exitCode: number | null | undefined;
  let startError: Error | undefined;
  const closed = new Promise<void>((resolve) => {
    child.on('close', (code) => {
      exitCode = code;
      notify();
      resolve();
    });
    child.on('error', (e) => {
      startError = e;
      exitCode = null;
      notify();
      resolve();
    });
  });
  const output = (): { stdout: string; stderr: string } => ({
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  });

  return {
    child,
    output,
    waitForOutput(re, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const o = output();
          if (re.test(o.stdout + o.stderr)) return done(undefined);
          if (exitCode !== undefined) {
            done(new Error(`${name} exited (${startError?.message ?? exitCode}) before printing ${re}: ${o.stderr}`));
          }
        };
        const timer = setTimeout(() => done(new Error(`${name} did not print ${re} within ${timeoutMs} ms`)), timeoutMs);
        const done = (e: Error | undefined): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (e) reject(e);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(graceMs = 2000) {
      let timedOut = false;
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, graceMs);
        let giveUp: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise((r) => (giveUp = setTimeout(r, graceMs + 2000)))]);
        clearTimeout(killer);
        clearTimeout(giveUp);
      }
      return { code: exitCode ?? null, ...output(), timedOut };
    },
  };
}
