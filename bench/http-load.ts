// A lean HTTP/1.1 load generator: one keep-alive socket per client, requests
// written as prebuilt strings, responses parsed just enough to read the status
// and skip the body. On a 2-core machine the load generator shares the CPU
// with the server, so a heavy client (undici: ~3x the CPU per request here)
// would measure the client, not the server.
import { connect, type Socket } from 'node:net';

export interface LoadResult {
  statuses: number[];
  latenciesMs: number[];
  seconds: number;
}

class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: ((status: number) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.tryComplete();
    });
    const fail = (err: Error): void => this.failed?.(err);
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the server')));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true }, () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  request(raw: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.socket.write(raw);
    });
  }

  private tryComplete(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || this.waiting === undefined) return;
    const head = this.buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    this.buffer = this.buffer.subarray(end + 4 + length);
    const done = this.waiting;
    this.waiting = undefined;
    done(status);
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }
}

/** POSTs every body to host:port/path with `concurrency` keep-alive connections. */
export async function postAll(host: string, port: number, path: string, bodies: readonly string[], concurrency: number): Promise<LoadResult> {
  const raws = bodies.map((b) => `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
  const connections = await Promise.all(Array.from({ length: concurrency }, () => Connection.open(host, port)));
  const statuses = new Array<number>(raws.length);
  const latenciesMs = new Array<number>(raws.length);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    connections.map(async (conn) => {
      while (next < raws.length) {
        const i = next++;
        const t0 = performance.now();
        statuses[i] = await conn.request(raws[i] as string);
        latenciesMs[i] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  for (const c of connections) c.close();
  return { statuses, latenciesMs, seconds };
}

/** GETs every path from host:port with `concurrency` keep-alive connections. */
export async function getAll(host: string, port: number, paths: readonly string[], concurrency: number): Promise<LoadResult> {
  const raws = paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  const connections = await Promise.all(Array.from({ length: concurrency }, () => Connection.open(host, port)));
  const statuses = new Array<number>(raws.length);
  const latenciesMs = new Array<number>(raws.length);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    connections.map(async (conn) => {
      while (next < raws.length) {
        const i = next++;
        const t0 = performance.now();
        statuses[i] = await conn.request(raws[i] as string);
        latenciesMs[i] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  for (const c of connections) c.close();
  return { statuses, latenciesMs, seconds };
}
