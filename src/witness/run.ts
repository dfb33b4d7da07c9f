// Starts a witness from files: its key, the log keys it accepts, its state
// file, and an address to listen on. Used by `sigsum-log witness` and by
// in-process local setups.
import { keyHash } from '../crypto/index.js';
import { readPublicKeyFile } from '../crypto/keyfile.js';
import { loadSigningKey } from '../crypto/signing-key.js';
import { ConfigError } from '../errors.js';
import { toHex } from '../hex.js';
import type { Logger } from '../log.js';
import { normalizePrefix } from '../http/router.js';
import { startServer, type RunningServer } from '../http/serve.js';
import { witnessApp } from './app.js';
import { FileWitnessState } from './state.js';
import { Witness } from './witness.js';
import { buildInfoFamily, buildRegistry } from '../ops/exposition.js';
import { httpFamilies, HttpMetrics } from '../ops/http-metrics.js';
import { versionString } from '../version.js';

export interface WitnessSettings {
  /** OpenSSH Ed25519 private key file of the witness, or its public key file (signing through $SSH_AUTH_SOCK). */
  keyFile: string;
  /** Public key files of the logs to cosign (ssh-ed25519 line or hex). */
  logPubkeyFiles: readonly string[];
  /** JSON state file; created on first cosignature. */
  stateFile: string;
  /** host:port; port 0 picks a free port. */
  listen: string;
  urlPrefix?: string;
}

export interface RunningWitness {
  /** Base URL to put in a policy's witness line, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly witness: Witness;
  /** Hex key hash of the witness key (policy files name it by key). */
  readonly keyHashHex: string;
  readonly server: RunningServer;
  stop(): Promise<void>;
}

export async function startWitness(settings: WitnessSettings, log: Logger): Promise<RunningWitness> {
  if (settings.logPubkeyFiles.length === 0) throw new ConfigError('witness: at least one log public key file is needed');
  const signer = await loadSigningKey(settings.keyFile, 'witness --key-file');
  const logKeys = settings.logPubkeyFiles.map(readPublicKeyFile);
  const witness = new Witness({
    signer,
    logKeys,
    state: FileWitnessState.open(settings.stateFile),
    now: () => Math.floor(Date.now() / 1000),
    log,
  });
  // sigsum-go names the endpoint add-checkpoint (types.EndpointAddCheckpoint).
  const http = new HttpMetrics(new Set(['add-checkpoint']));
  const addCheckpoint = http.endpoint('add-checkpoint');
  const registry = buildRegistry([buildInfoFamily(versionString()), ...httpFamilies(http)]);
  const server = await startServer(witnessApp(witness, settings.urlPrefix ?? '', log, { registry, addCheckpoint }), settings.listen);
  const url = `http://${server.address}${normalizePrefix(settings.urlPrefix ?? '')}`;
  const keyHashHex = toHex(keyHash(signer.publicKey));
  log.info(`sigsum-log ${versionString()} witness; key hash ${keyHashHex} (${signer.where}), key name ${witness.keyName}; logs: ${witness.origins().join(', ')}`);
  log.info(`witness listening on ${url}`);
  return { url, witness, keyHashHex, server, stop: () => server.close() };
}
