// Misbehaving tlog-witness servers for tests, over real HTTP on 127.0.0.1.
// Each one answers add-checkpoint the way a broken or hostile witness might.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { keyHash } from '../../src/crypto/index.js';
import { COSIGNATURE_NAMESPACE } from '../../src/formats/checkpoint.js';
import { formatCosignatureLine, parseSignedNote, witnessKeyName } from '../../src/formats/signed-note.js';
import { asSignature, type PublicKey, type Signer } from '../../src/types.js';
import { parseAddCheckpointRequest } from '../../src/witness/protocol.js';

export type Misbehaviour =
  /** Cosigns correctly, but with a key other than the one in the policy (under the policy key's name). */
  | { kind: 'wrong-key'; expected: PublicKey; actual: Signer }
  /** Right key and key ID, but the signature does not verify. */
  | { kind: 'bad-signature'; signer: Signer }
  /** Valid signature by the right key, but dated a day ago. */
  | { kind: 'stale-timestamp'; signer: Signer }
  /** 200 with a body that is not note signature lines. */
  | { kind: 'garbage' }
  /** Accepts the connection and the request, never answers. */
  | { kind: 'hang' };

export interface BadWitness {
  url: string;
  /** add-checkpoint requests received so far. */
  requests: number;
  close(): Promise<void>;
}

const utf8 = new TextEncoder();

function cosignLine(signer: Signer, keyName: string, requestBody: string, timestamp: number, corrupt: boolean): string {
  const note = parseSignedNote(parseAddCheckpointRequest(requestBody).checkpoint);
  const signature = signer.sign(utf8.encode(`${COSIGNATURE_NAMESPACE}\ntime ${timestamp}\n${note.text}`));
  if (corrupt) signature[10]! ^= 0x01;
  return formatCosignatureLine(signer.publicKey, { keyHash: keyHash(signer.publicKey), timestamp, signature: asSignature(signature) }, keyName);
}

function answer(m: Misbehaviour, body: string): string {
  const now = Math.floor(Date.now() / 1000);
  switch (m.kind) {
    case 'wrong-key':
      return cosignLine(m.actual, witnessKeyName(m.expected), body, now, false);
    case 'bad-signature':
      return cosignLine(m.signer, witnessKeyName(m.signer.publicKey), body, now, true);
    case 'stale-timestamp':
      return cosignLine(m.signer, witnessKeyName(m.signer.publicKey), body, now - 86_400, false);
    case 'garbage':
      return 'this is not a cosignature\n';
    case 'hang':
      throw new Error('unreachable');
  }
}

export async function startBadWitness(m: Misbehaviour, port = 0): Promise<BadWitness> {
  const hanging = new Set<ServerResponse>();
  const state = { requests: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/add-checkpoint')) {
        res.writeHead(404).end('not found\n');
        return;
      }
      state.requests++;
      if (m.kind === 'hang') {
        hanging.add(res);
        return;
      }
      const text = answer(m, Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
