// A test submitter speaking add-leaf over real HTTP, with bounded concurrency,
// retrying 202 like sigsum-submit until 200.
import { randomBytes } from 'node:crypto';
import { formatAddLeafRequest } from '../../src/formats/messages.js';
import { signLeaf, encodeTreeLeaf, type TreeLeaf } from '../../src/formats/leaf.js';
import { leafHash } from '../../src/tree/hash.js';
import { asHash, type Hash, type Signer } from '../../src/types.js';
import { http } from './node-process.js';

export interface TestLeaf {
  message: Hash;
  leaf: TreeLeaf;
  leafHash: Hash;
  body: string;
}

export function makeLeaf(signer: Signer, message: Uint8Array = randomBytes(32)): TestLeaf {
  const msg = asHash(new Uint8Array(message));
  const leaf = signLeaf(signer, msg);
  return {
    message: msg,
    leaf,
    leafHash: leafHash(encodeTreeLeaf(leaf)),
    body: formatAddLeafRequest({ message: msg, signature: leaf.signature, publicKey: signer.publicKey }),
  };
}

export async function addLeaf(baseUrl: string, leaf: TestLeaf, headers: Record<string, string> = {}): Promise<number> {
  const res = await http(`${baseUrl}/add-leaf`, { method: 'POST', body: leaf.body, headers });
  return res.status;
}

/** Runs `work` over items with at most `concurrency` in flight. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Repeats add-leaf for every leaf until each answers 200 (or throws after timeoutMs). */
export async function submitUntilPublished(baseUrl: string, leaves: readonly TestLeaf[], timeoutMs = 60_000, concurrency = 32): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let remaining = [...leaves];
  while (remaining.length > 0) {
    const statuses = await inParallel(remaining, concurrency, (l) => addLeaf(baseUrl, l));
    const bad = statuses.find((s) => s !== 200 && s !== 202);
    if (bad !== undefined) throw new Error(`add-leaf answered ${bad}`);
    remaining = remaining.filter((_l, i) => statuses[i] !== 200);
    if (remaining.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${remaining.length} leaves still not published after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
