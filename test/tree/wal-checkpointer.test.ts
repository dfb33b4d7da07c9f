// The background WAL checkpointer (wal-checkpointer.ts) on real SQLite files:
// checkpoints happen off the writer's thread without tripping the sole-writer
// check, the WAL stays bounded under back-to-back commits, close leaves no
// WAL, and a kill -9 in the middle of appends loses no committed leaf.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { toHex } from '../../src/hex.js';
import { leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import { TreeStore } from '../../src/tree/store.js';
import { dbPath, leafOf, leavesOf, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

const PAGE_FRAME_BYTES = 4096 + 24; // a WAL frame: page plus frame header

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('background WAL checkpoints', () => {
  it('run on the worker while a sole writer commits, and the WAL stays within its bound', async () => {
    const path = dbPath(dir, 'bounded.db');
    const walBound = 256 * 1024;
    const store = TreeStore.open(path, { soleWriter: true, checkpointInBackground: true, walBoundBytes: walBound });
    const all: Uint8Array[] = [];
    let largestWal = 0;
    try {
      for (let b = 0; b < 150; b++) {
        const batch = leavesOf(b * 200, (b + 1) * 200);
        all.push(...batch);
        store.appendLeaves(batch); // throws if a checkpoint looked like another connection's commit
        largestWal = Math.max(largestWal, statSync(`${path}-wal`).size);
        if (b % 50 === 49) await sleep(120); // let the worker run between bursts too
      }
      assert.ok(store.backgroundCheckpoints() >= 3, `the worker ran ${store.backgroundCheckpoints()} checkpoints`);
      // Without restarts the WAL would hold every batch (150 × ~15 frames × 4 KiB ≈ 9 MB).
      const bound = walBound + 64 * PAGE_FRAME_BYTES;
      assert.ok(largestWal <= bound, `WAL reached ${largestWal} bytes, bound ${bound}`);
      assert.equal(store.size(), all.length);
    } finally {
      store.close();
    }
    assert.equal(existsSync(`${path}-wal`), false, 'the last close checkpoints and removes the WAL, as before');
    const reopened = TreeStore.open(path);
    try {
      assert.equal(reopened.size(), all.length);
      assert.equal(toHex(reopened.rootAt(all.length)), toHex(rootFromLeafHashes(all.map(leafHash))));
      reopened.verifyIntegrity();
    } finally {
      reopened.close();
    }
  });

  it('still refuses a write after another connection committed', () => {
    const path = dbPath(dir, 'sole.db');
    const sole = TreeStore.open(path, { soleWriter: true, checkpointInBackground: true });
    try {
      sole.appendLeaves(leavesOf(0, 10));
      const other = TreeStore.open(path);
      other.appendLeaves(leavesOf(10, 20));
      other.close();
      assert.throws(() => sole.appendLeaves([leafOf(20)]), /written by another connection.*sole writer/);
      assert.deepEqual(sole.appendLeaves([leafOf(20)]), [20]);
    } finally {
      sole.close();
    }
  });

  it("falls back to SQLite's own checkpoint when the worker dies", async () => {
    const path = dbPath(dir, 'fallback.db');
    const store = TreeStore.open(path, { soleWriter: true, checkpointInBackground: true });
    try {
      store.appendLeaves(leavesOf(0, 10));
      assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0);
      // Reach the worker the way nothing else may: the test kills it as a crash would.
      const worker = (store as unknown as { checkpointer: { worker: import('node:worker_threads').Worker } }).checkpointer.worker;
      await worker.terminate();
      store.appendLeaves(leavesOf(10, 20));
      assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
      store.appendLeaves(leavesOf(20, 30));
      assert.equal(store.size(), 30);
    } finally {
      store.close();
    }
    assert.equal(existsSync(`${path}-wal`), false);
  });

  it('loses no committed leaf when the process is killed with SIGKILL mid-append', async () => {
    const path = join(dir, 'killed.db');
    const storeUrl = pathToFileURL(join(import.meta.dirname, '../../src/tree/store.js')).href;
    const helpersUrl = pathToFileURL(join(import.meta.dirname, 'helpers.js')).href;
    const script = `
      const { TreeStore } = await import(${JSON.stringify(storeUrl)});
      const { leavesOf } = await import(${JSON.stringify(helpersUrl)});
      const store = TreeStore.open(${JSON.stringify(path)}, { soleWriter: true, checkpointInBackground: true, walBoundBytes: 65536 });
      for (let b = 0; ; b++) {
        store.appendLeaves(leavesOf(b * 100, (b + 1) * 100));
        process.stdout.write('committed ' + store.size() + '\\n');
      }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let committed = 0;
    let out = '';
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 30 commits within 60 s (saw ${committed})`)), 60_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const sizes = [...out.matchAll(/committed (\d+)\n/g)].map((m) => Number(m[1]));
          committed = sizes.length > 0 ? Math.max(...sizes) : 0;
          if (sizes.length >= 30) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', (code) => reject(new Error(`appender exited early (${code})`)));
      });
      child.kill('SIGKILL');
      await exited;
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const store = TreeStore.open(path);
    try {
      assert.ok(store.size() >= committed, `size ${store.size()} after kill -9, ${committed} reported committed`);
      assert.equal(store.size() % 100, 0, 'batches are all or nothing');
      const all = leavesOf(0, store.size());
      assert.equal(toHex(store.rootAt(store.size())), toHex(rootFromLeafHashes(all.map(leafHash))));
      store.verifyIntegrity();
    } finally {
      store.close();
    }
  });
});
