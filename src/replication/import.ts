// `sigsum-log import`: copy a running Sigsum log from its public API into a
// replica database, with the secondary's Replicator (same indices, same
// verification, same meta records), so that promote-secondary treats the
// result exactly like a secondary's database.
//
// Crash safety is the Replicator's: leaves are stored in all-or-nothing
// transactions, the verified size and the published head only advance once
// the local root equals the log-signed root, and a rerun starts at the
// verified size, comparing every stored leaf past it with the source's.
import type { TreeHead } from '../formats/tree-head.js';
import { toHex } from '../hex.js';
import type { Logger } from '../log.js';
import { emptyRoot } from '../tree/hash.js';
import type { PublicKey } from '../types.js';
import { locateDifference, PublicLogSource, UnsignedSourceHeadError, type PublicLogApi } from './public-source.js';
import { Replicator, type Divergence, type ReplicaStore } from './replicator.js';

export interface ImportOptions {
  store: ReplicaStore;
  api: PublicLogApi;
  /** Names the source in messages (its URL). */
  sourceName: string;
  logKey: PublicKey;
  log: Logger;
  /** Keep polling after catching up. */
  follow: boolean;
  intervalMs: number;
  /** Consecutive failed polls tolerated before giving up (without --follow). */
  maxFailures?: number;
  /** get-leaves requests in flight. */
  maxInFlight?: number;
  /** A result line (caught up, resumed). */
  say: (line: string) => void;
  onProgress?: (stored: number, target: number) => void;
  /** Resolves when the import should stop (a signal); the current step ends at its next batch. */
  stopSignal?: Promise<void>;
}

export type ImportResult =
  | { kind: 'caught-up'; head: TreeHead }
  | { kind: 'stopped'; head: TreeHead }
  /** The source disagrees with the log's signature, or with what was verified before. */
  | { kind: 'refused'; message: string }
  /** The source could not be read; a rerun resumes. */
  | { kind: 'unavailable'; message: string };

export async function runImport(opts: ImportOptions): Promise<ImportResult> {
  const { store } = opts;
  const source = new PublicLogSource(opts.api, opts.logKey, opts.sourceName);
  let divergence: Divergence | undefined;
  const replicator = new Replicator({
    store,
    upstream: source,
    upstreamName: opts.sourceName,
    log: opts.log,
    logPublicKey: opts.logKey,
    batchSize: 8192, // clamped to the source's max-range after its first answer
    maxInFlight: opts.maxInFlight ?? 8,
    onProgress: opts.onProgress,
    onDivergence: (d) => {
      divergence = d;
    },
  });
  const verifiedAtStart = replicator.verifiedHead.size;
  if (store.size() > 0) {
    opts.say(
      `resuming: the database holds ${store.size()} leaves, ${verifiedAtStart} verified against a log-signed head` +
        (store.size() > verifiedAtStart ? `; the ${store.size() - verifiedAtStart} past it are compared with the source's again` : ''),
    );
  }
  let stopped = false;
  void opts.stopSignal?.then(() => {
    stopped = true;
    replicator.stop();
  });
  const maxFailures = opts.maxFailures ?? 3;
  let failures = 0;
  let lastReported = -1;
  for (;;) {
    let outcome;
    try {
      outcome = await replicator.step();
    } catch (err) {
      if (err instanceof UnsignedSourceHeadError) return { kind: 'refused', message: err.message };
      throw err;
    }
    switch (outcome) {
      case 'synced': {
        failures = 0;
        const head = replicator.verifiedHead;
        if (head.size !== lastReported) {
          lastReported = head.size;
          opts.say(`caught up: size ${head.size} root ${toHex(head.rootHash)} (verified against the log-signed tree head of ${opts.sourceName})`);
        }
        if (!opts.follow) return { kind: 'caught-up', head };
        break;
      }
      case 'stopped':
        return { kind: 'stopped', head: replicator.verifiedHead };
      case 'diverged':
        return { kind: 'refused', message: await describeDivergence(divergence, replicator.verifiedHead.size, store, opts) };
      case 'upstream-behind':
        if (!opts.follow) {
          return {
            kind: 'refused',
            message: `${opts.sourceName} now publishes fewer leaves than the ${replicator.verifiedHead.size} verified from it before: a log never shrinks; not importing from it`,
          };
        }
        break;
      case 'upstream-unavailable':
        failures++;
        if (!opts.follow && failures >= maxFailures) {
          return { kind: 'unavailable', message: `cannot read ${opts.sourceName} (${failures} attempts); run the same command again to resume` };
        }
        break;
    }
    if (stopped) return { kind: 'stopped', head: replicator.verifiedHead };
    await pause(opts.intervalMs, opts.stopSignal);
    if (stopped) return { kind: 'stopped', head: replicator.verifiedHead };
  }
}

/** The refusal message: which index (or size) the source disagrees at, and that nothing was overwritten. */
async function describeDivergence(d: Divergence | undefined, verifiedSize: number, store: ReplicaStore, opts: ImportOptions): Promise<string> {
  const kept = `Nothing stored was overwritten; the database stays verified up to size ${verifiedSize}.`;
  if (d === undefined) return `the source ${opts.sourceName} disagrees with the database. ${kept}`;
  if (d.index !== undefined) {
    return (
      `the source ${opts.sourceName} changed history: its leaf at index ${d.index} differs from the one stored here. ${kept} ` +
      `If the stored leaves past ${verifiedSize} came from a bad source, drop them with \`sigsum-log secondary-truncate --to-size ${verifiedSize}\`.`
    );
  }
  const head = d.head;
  if (head === undefined) return `the source ${opts.sourceName}: ${d.detail}. ${kept}`;
  const size = head.size;
  const where = await locateDifference({
    verifiedSize,
    target: head,
    localRoot: (n) => (n === 0 ? emptyRoot() : store.rootAt(n)),
    proof: (a, b) => opts.api.consistencyProof(a, b),
  });
  switch (where.kind) {
    case 'leaf':
      return (
        `the source ${opts.sourceName} changed history: the leaf it served for index ${where.index} is not the one in the tree its log signed at size ${size} ` +
        `(root ${toHex(head.rootHash)}). ${kept} Drop the unverified leaves with \`sigsum-log secondary-truncate --to-size ${verifiedSize}\` before importing from another source.`
      );
    case 'history':
      return (
        `the source ${opts.sourceName} changed history: its log-signed tree head of size ${size} does not extend the one of size ${where.verifiedSize} ` +
        `verified before; the first leaf that differs is at index ${where.index}. ${kept} Do not import from this source.`
      );
    case 'unknown':
      return `the source ${opts.sourceName}: ${d.detail}; the first differing index is unknown (${where.reason}). ${kept}`;
  }
}

function pause(ms: number, abort: Promise<void> | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void abort?.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
