// The software's version string: the package version and, when this copy was
// built from a git checkout, the commit. Shown by --version, on the pages, in
// /metrics (sigsum_log_build_info) and in the start-up log line.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface VersionInfo {
  /** package.json "version", e.g. "0.1.0". */
  readonly version: string;
  /** Full commit id of the checkout this copy runs from, if it is one. */
  readonly commit: string | undefined;
}

/** The package root: the nearest ancestor of this file holding package.json named sigsum-log. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'sigsum-log') return dir;
    } catch {
      // no package.json here
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The commit HEAD names in the git directory of root, read from files (git itself need not be installed). */
function gitCommit(root: string): string | undefined {
  let gitDir = join(root, '.git');
  const pointer = readText(gitDir); // a worktree's .git is a file "gitdir: <path>"
  if (pointer !== undefined) {
    const m = /^gitdir: (.+)$/m.exec(pointer);
    if (m === null) return undefined;
    gitDir = m[1] as string;
  }
  const head = readText(join(gitDir, 'HEAD'))?.trim();
  if (head === undefined) return undefined;
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const ref = /^ref: (.+)$/.exec(head)?.[1];
  if (ref === undefined) return undefined;
  // A worktree keeps HEAD locally but refs in the common directory.
  const commonDir = readText(join(gitDir, 'commondir'))?.trim();
  const dirs = commonDir === undefined ? [gitDir] : [gitDir, join(gitDir, commonDir)];
  for (const d of dirs) {
    const loose = readText(join(d, ref))?.trim();
    if (loose !== undefined && /^[0-9a-f]{40}$/.test(loose)) return loose;
    const packed = readText(join(d, 'packed-refs'));
    const line = packed?.split('\n').find((l) => l.endsWith(` ${ref}`));
    if (line !== undefined) return line.slice(0, 40);
  }
  return undefined;
}

let cached: VersionInfo | undefined;

export function versionInfo(): VersionInfo {
  if (cached !== undefined) return cached;
  const root = packageRoot();
  let version = 'unknown';
  let commit: string | undefined;
  if (root !== undefined) {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') version = pkg.version;
    commit = gitCommit(root);
  }
  cached = { version, commit };
  return cached;
}

/** "0.1.0" or "0.1.0 (git 807f7f7a2d0f)". */
export function versionString(info: VersionInfo = versionInfo()): string {
  return info.commit === undefined ? info.version : `${info.version} (git ${info.commit.slice(0, 12)})`;
}
