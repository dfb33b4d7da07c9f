// OpenSSH's real ssh-agent for tests: started in the foreground (-D) on a
// socket of our choosing, keys loaded with the real ssh-add, and killed -9
// and restarted on the same socket to test a signer that loses its agent.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { ed25519PublicKeyBlob } from '../../src/crypto/ssh-wire.js';
import type { Signer } from '../../src/types.js';
import { existsSync, rmSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { requireComponent } from './components.js';
import { waitUntil } from './node-process.js';

export interface TestAgent {
  /** The value for SSH_AUTH_SOCK. */
  readonly socket: string;
  /** ssh-add FILE (an OpenSSH private key file, mode 0600). */
  add(privateKeyFile: string): Promise<void>;
  /** kill -9 the agent; its keys are gone with it. */
  kill(): Promise<void>;
  /** A fresh agent on the same socket, holding no keys. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Undefined (test skipped, or failed under SIGSUM_INTEROP=required) when OpenSSH is not installed. */
export async function startTestAgent(t: TestContext, socket: string): Promise<TestAgent | undefined> {
  const agentBin = requireComponent(t, 'ssh-agent');
  const addBin = requireComponent(t, 'ssh-add');
  if (agentBin === undefined || addBin === undefined) return undefined;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    rmSync(socket, { force: true });
    const p = spawn(agentBin, ['-D', '-a', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    exited = new Promise((resolve) => p.once('exit', () => resolve()));
    proc = p;
    await waitUntil(`ssh-agent socket ${socket}`, () => {
      if (p.exitCode !== null) throw new Error(`ssh-agent exited: ${stderr}`);
      return existsSync(socket) ? true : undefined;
    }, 10_000);
  };
  const kill = async (): Promise<void> => {
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    proc = undefined;
  };
  await start();
  const agent: TestAgent = {
    socket,
    add: (file) =>
      new Promise((resolve, reject) => {
        execFile(addBin, ['-q', file], { env: { ...process.env, SSH_AUTH_SOCK: socket }, timeout: 10_000 }, (err, _out, stderr) =>
          err ? reject(new Error(`ssh-add ${file} failed: ${stderr || err.message}`)) : resolve(),
        );
      }),
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      rmSync(socket, { force: true });
    },
  };
  t.after(() => agent.stop());
  return agent;
}

/** An agent that offers `offered`'s key but signs with `signsWith`: a broken token, or a hostile socket. */
export function startLyingAgent(socket: string, offered: Signer, signsWith: Signer): Promise<Server> {
  const frame = (body: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
  };
  const str = (b: Uint8Array | string): Buffer => frame(Buffer.from(typeof b === 'string' ? Buffer.from(b) : b));
  const server = createServer((conn) => {
    let buf = Buffer.alloc(0);
    conn.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) return;
      const type = buf[4];
      if (type === 11) {
        conn.end(frame(Buffer.concat([Buffer.from([12, 0, 0, 0, 1]), str(ed25519PublicKeyBlob(offered.publicKey)), str('liar')])));
      } else {
        const sig = signsWith.sign(new TextEncoder().encode('whatever'));
        conn.end(frame(Buffer.concat([Buffer.from([14]), str(Buffer.concat([str('ssh-ed25519'), str(sig)]))])));
      }
    });
  });
  return new Promise((resolve) => server.listen(socket, () => resolve(server)));
}

