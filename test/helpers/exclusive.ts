// A lock across test files (node --test runs files in parallel processes):
// the tests that saturate the machine (the add-leaf flood) and the tests
// whose real peers have fixed deadlines (sigsum-monitor gives get-tree-head
// and get-leaves a short budget) hold it, so that on CI's two cores no two of
// them run at once. Other test files still run beside them, as before.
// The lock is a file holding the owner's pid, created exclusively; a lock whose
// owner died (kill -9 of a test run) is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

const LOCK_DIR = join(tmpdir(), 'sigsum-log-test-locks');

function ownerAlive(path: string): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false; // released meanwhile
  }
  const pid = Number(text);
  if (!Number.isSafeInteger(pid) || pid <= 0) return true; // being written: wait
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Waits (up to waitMs) until this process holds the machine-wide lock `name`,
 * and releases it when the test ends. Throws when the wait times out.
 */
export async function runAlone(t: TestContext, name = 'heavy', waitMs = 240_000): Promise<void> {
  mkdirSync(LOCK_DIR, { recursive: true });
  const path = join(LOCK_DIR, name);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!ownerAlive(path)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`waited ${waitMs} ms for the test lock ${path}`);
    await sleep(200);
  }
  const release = (): void => {
    try {
      if (readFileSync(path, 'utf8') === String(process.pid)) rmSync(path, { force: true });
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  t.after(release);
}
