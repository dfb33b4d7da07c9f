// A client of the ssh-agent protocol (draft-miller-ssh-agent), enough to sign
// with an Ed25519 key the agent holds: list identities, sign. The key itself
// never enters this process, which is how a log key kept in a hardware token
// is used (Glasklar's sigsum-agent speaks this protocol in front of a YubiHSM).
//
// Every message is a uint32 length and that many bytes, the first of which
// is the message type. Each call opens its own connection and closes it
// afterwards: signing happens once per tree head rotation, and a fresh
// connection per call means an agent that was restarted is picked up by the
// next call, with nothing to reconnect.
import { connect, type Socket } from 'node:net';
import { asPublicKey, asSignature, type PublicKey, type Signature } from '../types.js';
import { ED25519_KEY_TYPE as KEY_TYPE, ed25519PublicKeyBlob, sshString, sshUint32, SshWireReader } from './ssh-wire.js';

const SSH_AGENT_FAILURE = 5;
const SSH_AGENTC_REQUEST_IDENTITIES = 11;
const SSH_AGENT_IDENTITIES_ANSWER = 12;
const SSH_AGENTC_SIGN_REQUEST = 13;
const SSH_AGENT_SIGN_RESPONSE = 14;

/** An agent holding many keys answers with a few KiB; anything far beyond is not an agent. */
const MAX_ANSWER = 256 * 1024;
export const DEFAULT_AGENT_TIMEOUT_MS = 10_000;

/** The agent is unreachable, refused, timed out, or answered something that is not the protocol. */
export class SshAgentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshAgentError';
  }
}

export interface AgentIdentity {
  /** The key blob as the agent sent it (RFC 4253 public key format). */
  blob: Buffer;
  comment: string;
  /** The raw key when the identity is an ssh-ed25519 key, else undefined. */
  ed25519: PublicKey | undefined;
}

/** A wire reader whose truncation is the agent's protocol error. */
function agentReader(buf: Buffer, what: string): SshWireReader {
  return new SshWireReader(buf, () => new SshAgentError(`the agent's ${what} is truncated`));
}

function parseEd25519Blob(blob: Buffer): PublicKey | undefined {
  try {
    const r = agentReader(blob, 'key blob');
    if (r.text('key type') !== KEY_TYPE) return undefined;
    const key = r.string('key');
    return key.length === 32 && r.done ? asPublicKey(new Uint8Array(key)) : undefined;
  } catch {
    return undefined;
  }
}

export class SshAgentClient {
  constructor(
    /** The agent's socket, usually $SSH_AUTH_SOCK. */
    readonly socketPath: string,
    private readonly timeoutMs = DEFAULT_AGENT_TIMEOUT_MS,
  ) {}

  /** SSH_AGENTC_REQUEST_IDENTITIES: every key the agent offers. */
  async identities(): Promise<AgentIdentity[]> {
    const answer = await this.request(Buffer.from([SSH_AGENTC_REQUEST_IDENTITIES]));
    if (answer[0] === SSH_AGENT_FAILURE) throw new SshAgentError('the agent refused to list its keys');
    if (answer[0] !== SSH_AGENT_IDENTITIES_ANSWER) throw new SshAgentError(`unexpected answer type ${answer[0]} to a request for identities`);
    const r = agentReader(answer.subarray(1), 'list of identities');
    const count = r.uint32('count');
    const out: AgentIdentity[] = [];
    for (let i = 0; i < count; i++) {
      const blob = Buffer.from(r.string('key blob'));
      const comment = r.string('comment').toString('utf8');
      out.push({ blob, comment, ed25519: parseEd25519Blob(blob) });
    }
    if (!r.done) throw new SshAgentError('trailing data after the list of identities');
    return out;
  }

  /**
   * SSH_AGENTC_SIGN_REQUEST with an ssh-ed25519 key: the plain Ed25519
   * signature of `message`. The caller verifies it (see agentSigner).
   */
  async signEd25519(publicKey: PublicKey, message: Uint8Array): Promise<Signature> {
    const request = Buffer.concat([Buffer.from([SSH_AGENTC_SIGN_REQUEST]), sshString(ed25519PublicKeyBlob(publicKey)), sshString(message), sshUint32(0)]);
    const answer = await this.request(request);
    if (answer[0] === SSH_AGENT_FAILURE) throw new SshAgentError('the agent refused to sign (it does not hold the key, or its owner declined)');
    if (answer[0] !== SSH_AGENT_SIGN_RESPONSE) throw new SshAgentError(`unexpected answer type ${answer[0]} to a sign request`);
    const outer = agentReader(answer.subarray(1), 'sign response');
    const sig = agentReader(outer.string('signature'), 'signature');
    const type = sig.text('type');
    const bytes = sig.string('signature');
    if (!outer.done || !sig.done) throw new SshAgentError('trailing data after the signature');
    if (type !== KEY_TYPE) throw new SshAgentError(`the agent signed with type ${JSON.stringify(type)}, not ${KEY_TYPE}`);
    if (bytes.length !== 64) throw new SshAgentError(`the agent's Ed25519 signature has ${bytes.length} bytes, not 64`);
    return asSignature(new Uint8Array(bytes));
  }

  /** One request, one answer, on a connection of its own. */
  private request(message: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let socket: Socket;
      let received = Buffer.alloc(0);
      let settled = false;
      const finish = (err: Error | undefined, answer?: Buffer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err !== undefined) reject(err);
        else resolve(answer as Buffer);
      };
      const timer = setTimeout(
        () => finish(new SshAgentError(`the agent at ${this.socketPath} did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      socket = connect(this.socketPath);
      socket.on('connect', () => socket.write(Buffer.concat([sshUint32(message.length), message])));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length < 4) return;
        const length = received.readUInt32BE(0);
        if (length === 0 || length > MAX_ANSWER) {
          finish(new SshAgentError(`the agent at ${this.socketPath} sent a message of length ${length}: not the ssh-agent protocol`));
          return;
        }
        if (received.length >= 4 + length) finish(undefined, received.subarray(4, 4 + length));
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no agent is listening there' : err.message;
        finish(new SshAgentError(`cannot reach the agent at ${this.socketPath}: ${why}`));
      });
      socket.on('close', () => finish(new SshAgentError(`the agent at ${this.socketPath} closed the connection without answering`)));
    });
  }
}
