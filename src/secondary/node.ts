// Wires a secondary node together: its replica database, its own key, the
// public listener (a read replica's reads and tiles for the published head it
// verified, with log-pubkey-file; else every request 404 "not primary"), the internal listener
// (its signed head for the primary's gate, and the read side for cascading),
// and the replication loop.
import type { Config } from '../config/config.js';
import { keyHash } from '../crypto/index.js';
import { readPublicKeyFile } from '../crypto/keyfile.js';
import { cachedTreeHeadSigner } from '../formats/checkpoint.js';
import type { SignedTreeHead } from '../formats/tree-head.js';
import { ConfigError, UnavailableError } from '../errors.js';
import { bytesEqual, toHex } from '../hex.js';
import { startServer, type RunningServer } from '../http/serve.js';
import { internalApp, internalRoutes } from '../internal-api/app.js';
import type { Logger } from '../log.js';
import { loadSigner, openTreeForRole, readInternalToken, witnessKeysFromPolicy } from '../node-common.js';
import { notPrimaryApp, publicApp, READ_REPLICA_SUBMITTER } from '../public-api/app.js';
import { PublishedReads } from '../public-api/reads.js';
import { TileExporter } from '../tiles/export.js';
import type { Hono } from 'hono';
import type { TreeStore } from '../tree/store.js';
import type { PublicKey } from '../types.js';
import { RepeatFilter } from '../log-repeats.js';
import { runPeriodically, type Periodic } from '../periodic.js';
import { Replicator } from '../replication/replicator.js';
import { InternalApiClient, type ReplicationUpstream } from '../internal-api/client.js';
import { SecondaryStatus } from '../ops/secondary-status.js';
import { buildInfoFamily, buildRegistry, lifecycleStateFamily } from '../ops/exposition.js';
import { healthRoute, metricsRoute, statusJsonRoute, statusPageRoute } from '../ops/routes.js';
import { versionString } from '../version.js';

/**
 * Leaves per internal get-leaves answer from this node (to nodes cascading
 * from it). A secondary has no [primary] max-range of its own to honour; its
 * internal API only serves other nodes, so larger pages are cheaper.
 */
export const SECONDARY_INTERNAL_MAX_RANGE = 8192;

/**
 * get-leaves requests in flight during a catch-up (one connection each); see
 * bench/replication.ts. The replicator commits every 8,192 leaves and its
 * thread does nothing else meanwhile, so the requests in flight should cover
 * one commit's worth at the upstream's usual max-range of 512: with 8, the
 * secondary sat idle ~15% of a 1M-leaf catch-up waiting for the next answers
 * after each commit (7.6–7.9 s; 16 and 32: 7.0–7.1 s).
 */
const GET_LEAVES_IN_FLIGHT = 16;

export interface RunningSecondary {
  publicServer: RunningServer;
  internalServer: RunningServer;
  replicator: Replicator;
  status: SecondaryStatus;
  stop(): Promise<void>;
}

export async function runSecondary(config: Config, log: Logger): Promise<RunningSecondary> {
  const signer = await loadSigner(config);
  const logPublicKey = config.secondary.logPubkeyFile === '' ? undefined : readPublicKeyFile(config.secondary.logPubkeyFile);
  if (logPublicKey !== undefined && bytesEqual(logPublicKey, signer.publicKey)) {
    throw new ConfigError(
      `key-file ${config.keyFile} holds the log's own key (key hash ${toHex(keyHash(logPublicKey))}, as in [secondary] log-pubkey-file); ` +
        "a secondary signs its replicated heads with a key of its own (sigsum-log keygen), never the log key",
    );
  }
  const token = readInternalToken(config);
  const tree = openTreeForRole(config.dbFile, 'replica');
  let upstream: InternalApiClient | undefined;
  let publicServer: RunningServer | undefined;
  let internalServer: RunningServer | undefined;
  try {
    upstream = new InternalApiClient({ baseUrl: config.secondary.primaryUrl, token, timeoutMs: config.timeoutMs, connections: GET_LEAVES_IN_FLIGHT });
    const version = versionString();
    const status = new SecondaryStatus({ version, upstream: upstream.baseUrl, intervalMs: config.intervalMs });
    const replicator = new Replicator({
      store: tree,
      upstream: observedUpstream(upstream, status),
      upstreamName: upstream.baseUrl,
      log,
      logPublicKey,
      maxInFlight: GET_LEAVES_IN_FLIGHT,
    });
    status.attach({
      replicatedSize: () => tree.size(),
      verifiedSize: () => replicator.verifiedHead.size,
      diverged: () => replicator.diverged,
      publishedHead: () => {
        const head = replicator.publishedHead;
        return head === undefined ? undefined : { size: head.size, confirmedAtMs: replicator.publishedHeadConfirmedAtMs };
      },
    });
    const registry = buildRegistry([buildInfoFamily(version), lifecycleStateFamily('replica'), ...status.families()]);
    log.info(
      `sigsum-log ${version}; secondary key hash ${toHex(keyHash(signer.publicKey))} (${signer.where}); lifecycle state replica; local tree size ${tree.size()}, verified size ${replicator.verifiedHead.size}; replicating from ${upstream.baseUrl}` +
        (logPublicKey === undefined ? '' : '; keeping the published tree head (log-pubkey-file set)'),
      { size: replicator.verifiedHead.size, local_size: tree.size(), upstream: upstream.baseUrl },
    );
    const signVerifiedHead = cachedTreeHeadSigner(signer);
    const signingErrors = new RepeatFilter(log);
    // The primary polls this every rotation: a key that cannot sign (agent
    // gone) is a 503 to it and one log line here, until signing works again.
    const treeHeadToCosign = async (): Promise<SignedTreeHead> => {
      let head: SignedTreeHead;
      try {
        head = await signVerifiedHead(replicator.verifiedHead);
      } catch (err) {
        const message = (err as Error)?.message ?? String(err);
        signingErrors.report('error', 'sign', (err as Error)?.name ?? 'error', `cannot sign this node's tree head for the primary: ${message}`);
        throw new UnavailableError(`this secondary cannot sign its tree head now: ${message}`);
      }
      if (signingErrors.clear('sign')) log.info("signing this node's tree head succeeds again");
      return head;
    };
    const internal = internalApp(
      internalRoutes(
        {
          // Only the verified head: nodes downstream never see a leaf this node has not checked.
          localTreeHead: () => replicator.verifiedHead,
          leaves: (start, end) => tree.leaves(start, end),
          publishedTreeHead: () => replicator.publishedHead,
        },
        SECONDARY_INTERNAL_MAX_RANGE,
        // Same checkpoint format as a log's head, with this node's key, so its origin is
        // sigsum.org/v1/tree/<hash of the secondary's key>.
        { treeHeadToCosign },
      ).concat([metricsRoute(registry), healthRoute(() => status.health()), statusJsonRoute(() => status.snapshot()), statusPageRoute(() => status.snapshot())]),
      config.urlPrefix,
      token,
      log,
      status.http,
    );
    const exporter = tileExporter(config, log, tree, logPublicKey); // before listening: a config error must not leave ports bound
    publicServer = await startServer(publicListener(config, log, tree, replicator, logPublicKey), config.externalEndpoint, undefined, config.http);
    internalServer = await startServer(internal, config.internalEndpoint, undefined, config.http);
    const loop = pollEvery(
      config.intervalMs,
      async () => {
        status.stepEnded(await replicator.step());
        exporter?.headPublished(replicator.publishedHead); // only schedules; a head already exported is skipped
      },
      log,
      (err) => status.stepFailed((err as Error)?.message ?? String(err)),
    );
    log.info(`secondary: public API on http://${publicServer.address}, internal API on http://${internalServer.address}`);

    const servers = { publicServer, internalServer, client: upstream };
    let stopping: Promise<void> | undefined;
    return {
      publicServer,
      internalServer,
      replicator,
      status,
      stop: () =>
        (stopping ??= (async () => {
          // Every stored batch is durable and the verified size only moves
          // after its leaves are: stopping anywhere is as safe as kill -9.
          const began = Date.now();
          replicator.stop();
          await Promise.all([servers.publicServer.close(), servers.internalServer.close()]);
          await servers.client.close(); // aborts get-leaves in flight, so the step ends now
          await loop.stop();
          await exporter?.stop();
          const verified = replicator.verifiedHead.size;
          const stored = tree.size();
          tree.close();
          log.info(`shut down in ${Date.now() - began} ms: stopped accepting and replicating, verified size ${verified}, ${stored} leaves stored, database closed`, {
            size: verified,
            local_size: stored,
          });
        })()),
    };
  } catch (err) {
    await publicServer?.close();
    await internalServer?.close();
    await upstream?.close();
    tree.close();
    throw err;
  }
}

/**
 * A read replica (log-pubkey-file set, serve-reads on) serves the shared
 * public reads for the newest published head it verified: log-signed, and
 * its root equal to the local tree's. add-leaf is 404 naming the primary.
 */
function publicListener(config: Config, log: Logger, tree: TreeStore, replicator: Replicator, logPublicKey: PublicKey | undefined): Hono {
  if (logPublicKey === undefined || !config.secondary.serveReads) return notPrimaryApp(log);
  const reads = new PublishedReads({
    store: tree,
    head: () => replicator.publishedHead,
    maxRange: config.secondary.maxRange,
    logPublicKey,
    witnessKey: witnessKeysFromPolicy(config.secondary.policyFile),
  });
  return publicApp(reads, READ_REPLICA_SUBMITTER, config.urlPrefix, log).app;
}

/** A read replica's static tile export (tiles-dir), of the published heads it verified. */
function tileExporter(config: Config, log: Logger, tree: TreeStore, logPublicKey: PublicKey | undefined): TileExporter | undefined {
  if (config.tilesDir === '') return undefined;
  if (logPublicKey === undefined) throw new ConfigError('tiles-dir needs [secondary] log-pubkey-file: a secondary exports the published heads it verified');
  return new TileExporter({ dir: config.tilesDir, store: tree, logPublicKey, witnessKey: witnessKeysFromPolicy(config.secondary.policyFile), log });
}

/** The replication loop: fixed-rate polling, persistent failures logged once a minute. */
function pollEvery(intervalMs: number, step: () => Promise<unknown>, log: Logger, onFailure: (err: unknown) => void): Periodic {
  const repeats = new RepeatFilter(log);
  return runPeriodically(intervalMs, step, {
    failed: (err) => {
      onFailure(err);
      repeats.report('error', 'step', (err as Error)?.name ?? 'error', `replication step failed: ${(err as Error)?.stack ?? String(err)}`);
    },
    succeeded: () => {
      if (repeats.clear('step')) log.info('replication steps succeed again');
    },
  });
}

/** The upstream client, telling the status model what the upstream reports and how requests fail. */
function observedUpstream(upstream: ReplicationUpstream, status: SecondaryStatus): ReplicationUpstream {
  const failed = (err: unknown): never => {
    status.upstreamFailed((err as Error)?.message ?? String(err));
    throw err;
  };
  return {
    treeHeadUnsigned: async () => {
      const head = await upstream.treeHeadUnsigned().catch(failed);
      status.upstreamAnswered(head.size);
      return head;
    },
    leaves: (start, end) => upstream.leaves(start, end).catch(failed),
    publishedTreeHead: () => upstream.publishedTreeHead().catch(failed),
  };
}
