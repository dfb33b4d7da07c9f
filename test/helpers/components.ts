// Finds the real components (Debian packages) that some tests drive:
// prometheus, promtool, nginx, chromium, ssh-agent, ssh-add, sqlite3. A test
// that needs one calls requireComponent(t, name): when the program is missing
// the test is marked skipped with a visible reason, unless SIGSUM_INTEROP=required
// (set by .ci/run), where a missing component is a failure. Root-only tests
// (tmpfs mounts) call requireRoot(t) likewise; those skip when not root
// whatever SIGSUM_INTEROP says, since CI runs as root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';

export type Component = 'prometheus' | 'promtool' | 'nginx' | 'chromium' | 'ssh-agent' | 'ssh-add' | 'sqlite3';

// Debian installs nginx under /usr/sbin, which is not on every user's PATH.
const EXTRA_DIRS = ['/usr/sbin', '/usr/bin', '/sbin'];

/** The absolute path of an executable on PATH (or in EXTRA_DIRS), or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...EXTRA_DIRS];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The path of the component's executable, or undefined after marking the test
 * skipped (callers do `if (!bin) return;`). Throws under SIGSUM_INTEROP=required.
 */
export function requireComponent(t: TestContext, name: Component): string | undefined {
  const found = findExecutable(name);
  if (found !== undefined) return found;
  const why = `${name} is not installed (Debian package ${debianPackage(name)}; .ci/run installs it)`;
  if (process.env.SIGSUM_INTEROP === 'required') throw new Error(`${why}: SIGSUM_INTEROP=required, so this is a failure`);
  t.skip(why);
  return undefined;
}

/** True when running as root; otherwise marks the test skipped and returns false. */
export function requireRoot(t: TestContext, what: string): boolean {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return true;
  t.skip(`${what} needs root (CI runs as root)`);
  return false;
}

function debianPackage(name: Component): string {
  switch (name) {
    case 'promtool':
      return 'prometheus';
    case 'ssh-agent':
    case 'ssh-add':
      return 'openssh-client';
    default:
      return name;
  }
}
