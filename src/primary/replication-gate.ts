// The replication gate: how far the primary may advance its signed tree head.
// Each rotation asks every secondary for its replicated head, signed with the
// secondary's own key; a head counts only if the signature verifies with that
// secondary's configured key and the head is a prefix of the primary's tree.
// Anything else (unreachable, slow, badly signed, ahead, inconsistent) counts
// as size 0, so no head is ever published that a secondary has not stored.
import { keyHash } from '../crypto/index.js';
import { readPublicKeyFile } from '../crypto/keyfile.js';
import { ConfigError, UpstreamError } from '../errors.js';
import { verifyTreeHeadSignature } from '../formats/checkpoint.js';
import type { CosignedTreeHead, SignedTreeHead } from '../formats/tree-head.js';
import { bytesEqual, toHex } from '../hex.js';
import type { Logger } from '../log.js';
import { RepeatFilter } from '../log-repeats.js';
import { readInternalToken } from '../node-common.js';
import { InternalApiClient, type SecondaryHeadSource } from '../internal-api/client.js';
import { emptyRoot } from '../tree/hash.js';
import type { Hash, PublicKey } from '../types.js';
import type { ExtensionContext } from './extensions.js';
import type { ReplicationGate } from './rotation.js';

export interface ReplicationParts {
  gate: ReplicationGate;
  /** Refuses to start when a secondary holds a tree that is not a prefix of ours. */
  checkNotForked?: () => Promise<void>;
  /** Closes the connections to the secondaries. */
  close(): Promise<void>;
}

/** What the gate and the startup fork check ask a secondary. */
export interface GateSource extends SecondaryHeadSource {
  /** The published (log-signed) head it serves on its internal API, if any. */
  publishedTreeHead(): Promise<CosignedTreeHead | undefined>;
}

/** One configured secondary, as the gate talks to it. */
export interface GateSecondary {
  /** How log lines name it (its URL). */
  name: string;
  publicKey: PublicKey;
  source: GateSource;
}

/** Told each secondary's answer every rotation (the status model and /metrics). */
export interface GateObserver {
  secondaryCounted(name: string, size: number): void;
  /** kind: unreachable, signature, ahead or inconsistent. */
  secondaryRefused(name: string, kind: string, message: string): void;
}

/** The primary's tree, as the gate reads it. */
export interface GateTree {
  size(): number;
  rootAt(size: number): Hash;
}

/** undefined when no secondaries are configured (single-node mode). */
export function buildReplicationGate(ctx: ExtensionContext): ReplicationParts | undefined {
  const { config, log, tree } = ctx;
  const urls = config.primary.secondaryUrls;
  if (urls.length === 0) return undefined;
  const token = readInternalToken(config);
  const publicKeys = config.primary.secondaryPubkeyFiles.map((f) => readPublicKeyFile(f));
  publicKeys.forEach((key, i) => {
    // A secondary's own heads have the log's origin when it holds the log
    // key: it would sign log checkpoints of sizes the log never published.
    if (bytesEqual(key, ctx.logPublicKey)) {
      throw new ConfigError(
        `[primary] secondary-pubkey-file ${config.primary.secondaryPubkeyFiles[i]} is the log's own key (key hash ${toHex(keyHash(key))}); ` +
          'each secondary needs a key of its own (sigsum-log keygen), never the log key',
      );
    }
  });
  const clients = urls.map((url) => new InternalApiClient({ baseUrl: url, token, timeoutMs: config.timeoutMs, connections: 1 }));
  const secondaries = clients.map((client, i): GateSecondary => ({ name: client.baseUrl, publicKey: publicKeys[i] as PublicKey, source: client }));
  log.info(`replication gate: ${secondaries.length} secondar${secondaries.length === 1 ? 'y' : 'ies'} (${secondaries.map((s) => s.name).join(', ')})`);
  return {
    gate: new SecondaryGate(secondaries, tree, log, ctx.observe?.gate),
    checkNotForked: () => checkNotForked(secondaries, tree, log, ctx.logPublicKey),
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** Why a secondary's head does not count, or undefined when it does. */
function rejection(head: SignedTreeHead, secondary: GateSecondary, tree: GateTree): { kind: string; why: string } | undefined {
  if (!verifyTreeHeadSignature(secondary.publicKey, head)) {
    return { kind: 'signature', why: `its tree head (size ${head.size}) is not signed by the key in its secondary-pubkey-file` };
  }
  // The tree's size now, not when the rotation began: the sequencer and the
  // secondary may both have moved on while we waited for its answer.
  const localSize = tree.size();
  if (head.size > localSize) return { kind: 'ahead', why: `it is ahead of this primary: size ${head.size} > local size ${localSize}` };
  const ours = rootAt(tree, head.size);
  if (!bytesEqual(ours, head.rootHash)) {
    return {
      kind: 'inconsistent',
      why: `its root at size ${head.size} is ${toHex(head.rootHash)} but this primary's is ${toHex(ours)} (inconsistent)`,
    };
  }
  return undefined;
}

export class SecondaryGate implements ReplicationGate {
  private readonly repeats: RepeatFilter;

  constructor(
    private readonly secondaries: readonly GateSecondary[],
    private readonly tree: GateTree,
    private readonly log: Logger,
    private readonly observer?: GateObserver,
  ) {
    this.repeats = new RepeatFilter(log);
  }

  async allowedSize(localSize: number): Promise<number> {
    // The clients time out on their own (config timeout), so one slow
    // secondary delays a rotation by at most that long.
    const sizes = await Promise.all(this.secondaries.map((s) => this.replicatedSize(s, localSize)));
    return Math.min(localSize, ...sizes);
  }

  private async replicatedSize(secondary: GateSecondary, localSize: number): Promise<number> {
    let head: SignedTreeHead;
    try {
      head = await secondary.source.treeHeadToCosign();
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      this.repeats.report('warning', secondary.name, 'unreachable', `secondary ${secondary.name} counts as size 0: unreachable or failing: ${err.message}`, {
        secondary: secondary.name,
        size: 0,
      });
      this.observer?.secondaryRefused(secondary.name, 'unreachable', err.message);
      return 0;
    }
    const rejected = rejection(head, secondary, this.tree);
    if (rejected !== undefined) {
      this.repeats.report('error', secondary.name, rejected.kind, `secondary ${secondary.name} counts as size 0: ${rejected.why}`, {
        secondary: secondary.name,
        size: 0,
      });
      this.observer?.secondaryRefused(secondary.name, rejected.kind, rejected.why);
      return 0;
    }
    this.observer?.secondaryCounted(secondary.name, head.size);
    if (this.repeats.clear(secondary.name)) this.log.info(`secondary ${secondary.name} counts again: replicated size ${head.size}`, { secondary: secondary.name, size: head.size });
    return Math.min(head.size, localSize);
  }
}

/**
 * Startup check: a secondary that verifiably holds a tree this primary does
 * not (longer, or a different root) means another node sequenced leaves:
 * starting would fork the log. An unreachable secondary, or one whose
 * signature does not verify (it proves nothing), does not block startup.
 * With the log key, a configured secondary that was promoted is caught too:
 * it no longer serves a head of its own, but it serves the published head,
 * signed with this log's key, and that must be a prefix of this tree.
 */
export async function checkNotForked(secondaries: readonly GateSecondary[], tree: GateTree, log: Logger, logPublicKey?: PublicKey): Promise<void> {
  const localSize = tree.size();
  const problems = await Promise.all(
    secondaries.map(async (s): Promise<string | undefined> => {
      const own = await ownHeadProblem(s, tree, localSize, log);
      if (own !== undefined || logPublicKey === undefined) return own;
      return publishedHeadProblem(s, tree, localSize, logPublicKey, log);
    }),
  );
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length > 0) {
    throw new ConfigError(
      `refusing to start as primary: ${found.join('; ')}. Someone else sequenced leaves this node does not have ` +
        '(another node was promoted, or this database is an old backup); starting would fork the log. ' +
        'Retire this node, or re-seed it as a secondary of the current primary.',
    );
  }
}

/** The secondary's own signed head, against this tree. */
async function ownHeadProblem(s: GateSecondary, tree: GateTree, localSize: number, log: Logger): Promise<string | undefined> {
  let head: SignedTreeHead;
  try {
    head = await s.source.treeHeadToCosign();
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    log.warning(`cannot ask secondary ${s.name} whether it holds a longer tree (starting anyway): ${err.message}`);
    return undefined;
  }
  if (!verifyTreeHeadSignature(s.publicKey, head)) {
    log.warning(`secondary ${s.name}: its tree head is not signed by the key in its secondary-pubkey-file; not trusting it for the fork check`);
    return undefined;
  }
  return notAPrefix(`secondary ${s.name}`, head, tree, localSize);
}

/** The log-signed head the secondary serves (kept from its upstream, or its own if it was promoted), against this tree. */
async function publishedHeadProblem(s: GateSecondary, tree: GateTree, localSize: number, logPublicKey: PublicKey, log: Logger): Promise<string | undefined> {
  let head: CosignedTreeHead | undefined;
  try {
    head = await s.source.publishedTreeHead();
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    log.debug(`secondary ${s.name}: no published tree head to compare with: ${err.message}`);
    return undefined;
  }
  if (head === undefined || !verifyTreeHeadSignature(logPublicKey, head)) return undefined;
  return notAPrefix(`${s.name} serves a tree head signed with this log's key that`, head, tree, localSize);
}

function notAPrefix(who: string, head: SignedTreeHead, tree: GateTree, localSize: number): string | undefined {
  if (head.size > localSize) return `${who} holds ${head.size} leaves but this node's tree has only ${localSize}`;
  const ours = rootAt(tree, head.size);
  if (!bytesEqual(ours, head.rootHash)) return `${who} has root ${toHex(head.rootHash)} at size ${head.size} but this node has ${toHex(ours)}`;
  return undefined;
}

function rootAt(tree: GateTree, size: number): Hash {
  return size === 0 ? emptyRoot() : tree.rootAt(size);
}
