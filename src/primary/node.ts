// Wires a primary node together: storage, startup head, sequencer, rotation,
// replication gate, witnesses, and the two listeners.
import type { Config } from '../config/config.js';
import { keyHash } from '../crypto/index.js';
import { toHex } from '../hex.js';
import type { Logger } from '../log.js';
import { loadSigner, openTreeForNode, readInternalToken, witnessKeysFromPolicy } from '../node-common.js';
import type { LifecycleState } from '../lifecycle.js';
import { internalApp, internalRoutes } from '../internal-api/app.js';
import { publicApp } from '../public-api/app.js';
import { PublishedReads } from '../public-api/reads.js';
import { TileExporter } from '../tiles/export.js';
import { startServer, type RunningServer } from '../http/serve.js';
import { SthFile } from '../storage/sth-file.js';
import { PrimaryLog, type SignatureVerifier, type SubmissionLimiter } from './log-service.js';
import { PublishedHead } from './published-head.js';
import { Rotator, type Cosigner, type ReplicationGate } from './rotation.js';
import { runPeriodically } from '../periodic.js';
import { RepeatFilter } from '../log-repeats.js';
import { Sequencer } from './sequencer.js';
import type { TreeStore } from '../tree/store.js';
import type { LoadedSigner } from '../crypto/signing-key.js';
import { VerifyPool } from '../crypto/verify-pool.js';
import { buildPrimaryExtensions, type ExtensionContext } from './extensions.js';
import { persistPublishedHead, planStartup, startupTreeHead } from './startup.js';
import { VerificationSlots } from './verification-slots.js';
import { PrimaryStatus } from '../ops/primary-status.js';
import { buildInfoFamily, buildRegistry, lifecycleStateFamily } from '../ops/exposition.js';
import { healthRoute, infoPageRoute, metricsRoute, requestLogUrl, statusJsonRoute, statusPageRoute } from '../ops/routes.js';
import { formatOpenSshPublicKey } from '../crypto/keyfile.js';
import { versionString } from '../version.js';

export interface PrimaryExtensions {
  /** Built from [primary] secondary-url / secondary-pubkey-file; undefined: single node. */
  gate?: ReplicationGate;
  cosigner?: Cosigner;
  limiter?: SubmissionLimiter;
  /** Runs after every configured file was read and before the first head is signed: the "not forked" check against secondaries. */
  beforeServing?: () => Promise<void>;
  /** Releases what the extensions hold (connections). */
  close?: () => Promise<void>;
}

export interface RunningPrimary {
  publicServer: RunningServer;
  internalServer: RunningServer;
  /** What /metrics, /health, status.json and the pages show. */
  status: PrimaryStatus;
  stop(): Promise<void>;
}

export type ExtensionBuilder = (ctx: ExtensionContext) => PrimaryExtensions | Promise<PrimaryExtensions>;

export async function runPrimary(config: Config, log: Logger, extend: ExtensionBuilder = buildPrimaryExtensions): Promise<RunningPrimary> {
  // Startup order (doc/design.md "Startup order"): every configured file is
  // read and checked, and the "not forked" check has passed, before the first
  // signature or write of a tree head; a refusal leaves the files as they were.
  const signer = await loadSigner(config);
  const token = readInternalToken(config);
  const { tree, state } = openTreeForNode(config.dbFile, 'primary');
  // What has been opened, closed in reverse order on stop, or at once when
  // starting fails half-way (a refused fork check, a port in use).
  const opened: Array<() => unknown> = [() => tree.close()];
  const closeAll = async (): Promise<void> => {
    for (const close of opened.reverse()) await close();
  };
  try {
    return await startPrimary(config, log, extend, signer, token, tree, state, opened, closeAll);
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function startPrimary(
  config: Config,
  log: Logger,
  extend: ExtensionBuilder,
  signer: LoadedSigner,
  token: string | undefined,
  tree: TreeStore,
  state: LifecycleState,
  opened: Array<() => unknown>,
  closeAll: () => Promise<void>,
): Promise<RunningPrimary> {
  const logKeyHash = keyHash(signer.publicKey);
  const sthFile = new SthFile(config.primary.sthFile);
  const plan = planStartup(sthFile, tree, signer.publicKey);
  const version = versionString();
  const status = new PrimaryStatus({
    version,
    lifecycleState: state,
    logKeyHashHex: toHex(logKeyHash),
    intervalMs: config.intervalMs,
    idleIntervalMs: config.primary.idleIntervalMs,
  });
  opened.push(() => status.stop());
  // Signature checks (leaves and submit tokens) are add-leaf's dominant cost: do them on worker threads.
  const verifyPool = new VerifyPool();
  opened.push(() => verifyPool.close());
  const verify: SignatureVerifier = (k, m, s) => verifyPool.verify(k, m, s);
  const ext = await extend({ config, log, logPublicKey: signer.publicKey, logKeyHash, tree, observe: { gate: status, cosign: status }, verify });
  if (ext.close !== undefined) opened.push(ext.close);
  await ext.beforeServing?.();
  const published = new PublishedHead(await startupTreeHead(plan, sthFile, signer, log));
  log.info(`sigsum-log ${version}; log key hash ${toHex(logKeyHash)} (${signer.where}); lifecycle state ${state}; local tree size ${tree.size()}, published size ${published.size}`, { size: published.size, local_size: tree.size(), version });
  const gate: ReplicationGate = ext.gate ?? singleNodeGate(log);

  const sequencer = new Sequencer(tree, config.primary, log);
  const stopSequencer = once(() => sequencer.stop()); // sequences what is pending
  opened.push(stopSequencer);
  const slots = new VerificationSlots(config.primary.maxVerifications, config.primary.maxVerificationsPerClient);
  const service = new PrimaryLog(verify, sequencer, published, ext.limiter, slots, {
    frozen: state === 'frozen',
  });
  const reads = new PublishedReads({
    store: tree,
    head: () => published.current,
    maxRange: config.primary.maxRange,
    logPublicKey: signer.publicKey,
    witnessKey: witnessKeysFromPolicy(config.primary.policyFile),
  });
  const rotator = new Rotator({
    tree,
    signer,
    gate,
    cosigner: ext.cosigner,
    persist: (head) => persistPublishedHead(sthFile, tree, head),
    published,
    idleIntervalMs: config.primary.idleIntervalMs,
    now: () => Date.now(),
    log,
    onOutcome: (outcome) => status.rotated(outcome),
  });
  status.attach({
    localSize: () => tree.size(),
    published: () => published.current,
    pending: () => sequencer.pendingCount,
    verifyQueueDepth: () => verifyPool.depth,
    cosigning: ext.cosigner !== undefined,
    sequencer,
  });
  const registry = buildRegistry([buildInfoFamily(version), lifecycleStateFamily(state), ...status.families()]);

  const internal = internalApp(
    internalRoutes(
      {
        localTreeHead: () => {
          const size = tree.size();
          return { size, rootHash: tree.rootAt(size) };
        },
        leaves: (start, end) => tree.leaves(start, end),
        publishedTreeHead: () => published.current,
      },
      config.primary.maxRange,
    ).concat([metricsRoute(registry), healthRoute(() => status.health()), statusJsonRoute(() => status.snapshot()), statusPageRoute(() => status.snapshot())]),
    config.urlPrefix,
    token,
    log,
  );
  const publicKeyHex = toHex(signer.publicKey);
  const publicKeyOpenSsh = formatOpenSshPublicKey(signer.publicKey).trim();
  const infoPage = infoPageRoute((req) => {
    const head = published.current;
    return {
      version,
      publicKeyHex,
      publicKeyOpenSsh,
      keyHashHex: toHex(logKeyHash),
      logUrl: requestLogUrl(req, config.externalEndpoint, config.urlPrefix),
      head: {
        size: head.size,
        rootHashHex: toHex(head.rootHash),
        newestCosignatureTime: head.cosignatures.length === 0 ? undefined : Math.max(...head.cosignatures.map((c) => c.timestamp)),
      },
      cosignedBy: status.cosignedBy(head),
      nowSeconds: Math.floor(Date.now() / 1000),
    };
  });
  const publicApi = publicApp(reads, service, config.urlPrefix, log, { instrument: status.http, extraRoutes: [infoPage] });
  const publicServer = await startServer(publicApi.app, config.externalEndpoint, publicApi.direct, config.http);
  const closePublic = once(() => publicServer.close());
  opened.push(closePublic);
  const internalServer = await startServer(internal, config.internalEndpoint, undefined, config.http);
  const closeInternal = once(() => internalServer.close());
  opened.push(closeInternal);
  sequencer.start();
  const exporter = config.tilesDir === '' ? undefined : new TileExporter({ dir: config.tilesDir, store: tree, logPublicKey: signer.publicKey, witnessKey: reads.witnessKey, log });
  if (exporter !== undefined) opened.push(() => exporter.stop()); // after the rotation stopped: it finishes the file in flight
  const rotationErrors = new RepeatFilter(log);
  const rotation = runPeriodically(config.intervalMs, () => rotator.rotate(), {
    failed: (err) => {
      status.rotated('failed');
      rotationErrors.report('error', 'rotation', (err as Error)?.name ?? 'error', `tree head rotation failed: ${(err as Error)?.message ?? String(err)}`);
    },
    succeeded: () => {
      exporter?.headPublished(published.current); // off this path: it only schedules
      if (rotationErrors.clear('rotation')) log.info('tree head rotation succeeds again');
    },
  });
  const stopRotation = once(() => rotation.stopWithin(Math.min(config.timeoutMs, ROTATION_SHUTDOWN_WAIT_MS)));
  opened.push(stopRotation);
  log.info(`primary: public API on http://${publicServer.address}, internal API on http://${internalServer.address}`);

  let stopping: Promise<void> | undefined;
  return {
    publicServer,
    internalServer,
    status,
    stop: () =>
      (stopping ??= (async () => {
        // The shutdown sequence; a crash (or a second SIGTERM) at any point
        // is as safe as a kill -9: leaves answered 202 but not yet sequenced
        // are lost, and their submitters retry.
        const began = Date.now();
        const rotationStopped = stopRotation(); // no new rotation; the one running may finish
        await Promise.all([closePublic(), closeInternal()]); // stop accepting
        const pending = sequencer.pendingCount;
        await stopSequencer(); // crash-safe point: every leaf answered 202 is sequenced (unless appends fail)
        const unsequenced = sequencer.pendingCount;
        const localSizeAtClose = tree.size();
        const finished = await rotationStopped;
        if (!finished) rotator.abandon(); // it publishes nothing when its peers answer
        await closeAll(); // the rest, then the database
        log.info(
          `shut down in ${Date.now() - began} ms: stopped accepting, sequenced ${pending - unsequenced} pending leaves` +
            (unsequenced > 0 ? ` (${unsequenced} could not be stored)` : '') +
            `, ${finished ? 'no rotation in progress' : 'abandoned the rotation in progress (nothing published)'}, database closed`,
          { sequenced: pending - unsequenced, unsequenced, rotation: finished ? 'finished' : 'abandoned', size: published.size, local_size: localSizeAtClose },
        );
      })()),
  };
}

/**
 * How long a shutdown waits for a rotation in progress (bounded by a slow
 * witness or secondary) before abandoning it.
 */
const ROTATION_SHUTDOWN_WAIT_MS = 3_000;

/** The first call runs fn; every call returns its promise. */
function once<T>(fn: () => T | Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= Promise.resolve().then(fn));
}

function singleNodeGate(log: Logger): ReplicationGate {
  log.warning('no secondaries configured: single-node mode publishes unreplicated leaves; use it for testing only');
  return { allowedSize: async (localSize) => localSize };
}
