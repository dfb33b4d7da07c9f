// The machine's own limits, which every other benchmark figure is compared
// to: Ed25519 verify/s and SHA-256/s (64-byte input) for each candidate
// implementation, on one core and (for verify) on all cores.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import * as noble from '@noble/ed25519';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import { ed25519Verify, generateSeed, sha256, signerFromSeed } from '../src/crypto/index.js';
import { asSignature } from '../src/types.js';

noble.hashes.sha512 = nobleSha512;

/** Calls fn repeatedly for about `ms` milliseconds; returns calls per second. */
export function rate(fn: () => void, ms = 1000): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 64; i++) fn();
    n += 64;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

function fixtures(): { publicKey: Parameters<typeof ed25519Verify>[0]; message: Uint8Array; signature: Parameters<typeof ed25519Verify>[2] } {
  const signer = signerFromSeed(generateSeed());
  const message = new Uint8Array(56).fill(7);
  return { publicKey: signer.publicKey, message, signature: signer.sign(message) };
}

export function nodeVerifyRate(ms = 1000): number {
  const { publicKey, message, signature } = fixtures();
  return rate(() => {
    if (!ed25519Verify(publicKey, message, signature)) throw new Error('verify failed');
  }, ms);
}

/** Verify/s summed over one worker per core, all running at once. */
export async function nodeVerifyRateAllCores(ms = 1000): Promise<{ cores: number; perSecond: number }> {
  const cores = availableParallelism();
  const self = fileURLToPath(import.meta.url);
  const rates = await Promise.all(
    Array.from(
      { length: cores },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(self, { workerData: { verifyFor: ms } });
          w.once('message', (r: number) => {
            resolve(r);
            void w.terminate();
          });
          w.once('error', reject);
        }),
    ),
  );
  return { cores, perSecond: rates.reduce((a, b) => a + b, 0) };
}

export async function benchCrypto(): Promise<Record<string, number>> {
  const { publicKey, message, signature } = fixtures();
  const input64 = new Uint8Array(64).fill(1);
  const nobleSig = asSignature(noble.sign(message, new Uint8Array(32).fill(3)));
  const noblePub = noble.getPublicKey(new Uint8Array(32).fill(3));
  const results: Record<string, number> = {
    'ed25519 verify/s node:crypto (1 core)': nodeVerifyRate(),
    'ed25519 verify/s @noble/ed25519 (1 core)': rate(() => {
      if (!noble.verify(nobleSig, message, noblePub)) throw new Error('verify failed');
    }, 1000),
    'sha256/s node:crypto (64 B)': rate(() => sha256(input64)),
    'sha256/s @noble/hashes (64 B)': rate(() => nobleSha256(input64)),
  };
  void publicKey;
  void signature;
  const all = await nodeVerifyRateAllCores();
  results[`ed25519 verify/s node:crypto (${all.cores} cores)`] = all.perSecond;
  results['ratio node:crypto / @noble verify'] =
    (results['ed25519 verify/s node:crypto (1 core)'] as number) / (results['ed25519 verify/s @noble/ed25519 (1 core)'] as number);
  return results;
}

// Worker entry: measure and report.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
if (!isMainThread && parentPort !== null && (workerData as { verifyFor?: number })?.verifyFor !== undefined) {
  parentPort.postMessage(nodeVerifyRate((workerData as { verifyFor: number }).verifyFor));
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [k, v] of Object.entries(await benchCrypto())) console.log(`${k.padEnd(48)} ${v.toFixed(k.startsWith('ratio') ? 2 : 0)}`);
}
