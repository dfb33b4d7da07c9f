import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { toHex } from '../../src/hex.js';
import { leafHash, rootFromLeafHashes } from '../../src/tree/hash.js';
import { TreeStore } from '../../src/tree/store.js';
import { dbPath, leavesOf, tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./append-child.js', import.meta.url));
const BATCH = 100;
// Chunk moves and level moves (level 1 holds 8 chunks, level 2 64: dedup.ts)
// land inside some batches, so kills can hit them.
const DEDUP_CHUNK = 60;

/** Runs the appending child until it has committed `minBatches` more batches, then SIGKILLs it at a random moment. */
function appendThenKill(path: string, minBatches: number, startSize: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, path, String(BATCH), String(DEDUP_CHUNK)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let lastCommitted = startSize;
    let killing = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const lines = out.trim().split('\n');
      const last = lines[lines.length - 1]?.match(/^committed (\d+)$/);
      if (last) lastCommitted = Math.max(lastCommitted, Number(last[1]));
      if (!killing && lastCommitted >= startSize + minBatches * BATCH) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 40));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code ?? signal}: ${err}`));
      else {
        const all = [...out.matchAll(/committed (\d+)\n/g)].map((m) => Number(m[1]));
        resolve(Math.max(startSize, ...all));
      }
    });
  });
}

describe('crash safety', () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = tempDir()));
  after(() => cleanup());

  it('after SIGKILL mid-append, holds whole batches, at least every reported one, with consistent hashes', async () => {
    const path = dbPath(dir);
    let size = 0;
    for (let round = 0; round < 3; round++) {
      const reported = await appendThenKill(path, 15, size);
      const store = TreeStore.open(path, { dedupChunk: DEDUP_CHUNK });
      try {
        size = store.size();
        assert.equal(size % BATCH, 0, `round ${round}: size ${size} is not a whole number of batches`);
        assert.ok(size >= reported, `round ${round}: size ${size} lost a reported commit (${reported})`);
        assert.ok(size <= reported + BATCH, `round ${round}: size ${size} is beyond the batch in flight`);
        const leaves = leavesOf(0, size, 'crash');
        const { root } = store.verifyIntegrity();
        assert.equal(toHex(root), toHex(rootFromLeafHashes(leaves.map(leafHash))));
        assert.equal(store.indexOfLeafHash(leafHash(leaves[size - 1] as Uint8Array)), size - 1);
        assert.deepEqual(store.appendLeaves([leaves[0] as Uint8Array]), [0], 'dedup survives');
      } finally {
        store.close();
      }
    }
  });
});
