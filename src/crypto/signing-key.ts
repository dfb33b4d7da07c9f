// Where a node's signing key lives, decided as the Sigsum tools decide it
// (sigsum-go doc/tools.md "Private keys", log-go doc/setup.md "Key
// management"): a key-file holding an unencrypted OpenSSH private key is used
// in process; a key-file holding a public key names a key that the ssh-agent
// at $SSH_AUTH_SOCK holds, and every signature is asked of that agent.
import { ConfigError } from '../errors.js';
import { toHex } from '../hex.js';
import type { AsyncSigner, PublicKey, Signer } from '../types.js';
import { ed25519Verify, keyHash, signerFromSeed } from './index.js';
import { looksLikePem, readKeyFileText, readPrivateKeyFile, readPublicKeyFile } from './keyfile.js';
import { SshAgentClient, SshAgentError } from './ssh-agent.js';

export const AGENT_SOCKET_ENV = 'SSH_AUTH_SOCK';

export interface LoadedSigner extends AsyncSigner {
  /** How log lines name where the key is: "key file F" or "ssh-agent at S". */
  readonly where: string;
}

/** An in-memory key behind the async interface; signing costs what it did before. */
export function inProcessSigner(signer: Signer, where = 'memory'): LoadedSigner {
  return { publicKey: signer.publicKey, where, sign: async (message) => signer.sign(message) };
}

/**
 * A signer for `publicKey` through `client`. Each signature is checked with
 * the public key before it is returned: an agent (or a token behind it) that
 * answers with a wrong signature fails the signing, it is never used.
 */
export function agentSigner(client: SshAgentClient, publicKey: PublicKey): LoadedSigner {
  const hash = toHex(keyHash(publicKey));
  return {
    publicKey,
    where: `ssh-agent at ${client.socketPath}`,
    async sign(message) {
      const signature = await client.signEd25519(publicKey, message);
      if (!ed25519Verify(publicKey, message, signature)) {
        throw new SshAgentError(`the agent at ${client.socketPath} returned a signature that does not verify with key hash ${hash}`);
      }
      return signature;
    },
  };
}

/**
 * Loads the signing key named by a key file. `what` names the setting in
 * messages (e.g. "key-file"). With a public key, checks now that the agent is
 * reachable and holds exactly that ssh-ed25519 key, so a node refuses to
 * start rather than fail at its first rotation.
 * @throws ConfigError naming the file, SSH_AUTH_SOCK and the key hash.
 */
export async function loadSigningKey(file: string, what: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedSigner> {
  if (looksLikePem(readKeyFileText(file))) return inProcessSigner(signerFromSeed(readPrivateKeyFile(file)), `key file ${file}`);
  let publicKey: PublicKey;
  try {
    publicKey = readPublicKeyFile(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      `${what} ${file} holds neither an OpenSSH private key nor a public key (for signing through the ssh-agent): ${err.message}`,
    );
  }
  const hash = toHex(keyHash(publicKey));
  const socket = env[AGENT_SOCKET_ENV] ?? '';
  const using = `${what} ${file} is a public key (key hash ${hash}), so the private key is used through the ssh-agent at ${AGENT_SOCKET_ENV}`;
  if (socket === '') {
    throw new ConfigError(
      `${using}, but ${AGENT_SOCKET_ENV} is not set; start ssh-agent or sigsum-agent, load the key (ssh-add KEYFILE), and set ${AGENT_SOCKET_ENV}`,
    );
  }
  const client = new SshAgentClient(socket);
  let held: boolean;
  let count: number;
  try {
    const identities = await client.identities();
    held = identities.some((id) => id.ed25519 !== undefined && toHex(id.ed25519) === toHex(publicKey));
    count = identities.length;
  } catch (err) {
    if (!(err instanceof SshAgentError)) throw err;
    throw new ConfigError(`${using}=${socket}: ${err.message}`);
  }
  if (!held) {
    throw new ConfigError(
      `${using}=${socket}, but that agent does not hold this key (it offers ${count} other key${count === 1 ? '' : 's'}); ` +
        `load it with ssh-add KEYFILE (the private key of ${file}), or point ${AGENT_SOCKET_ENV} at the agent that holds it`,
    );
  }
  return agentSigner(client, publicKey);
}
