// The add-checkpoint table: one row per status C2SP tlog-witness defines,
// shared by the tests of our witness and the differential run against the
// real sigsum-witness.
import { join } from 'node:path';
import { keyHash } from '../../src/crypto/index.js';
import { checkpointBody, logOrigin, signTreeHead } from '../../src/formats/checkpoint.js';
import { formatSignedNote, noteKeyId, NOTE_SIG_TYPE_ED25519, parseSignedNote, signedCheckpointNote } from '../../src/formats/signed-note.js';
import { asHash, type Signer } from '../../src/types.js';
import { formatAddCheckpointRequest } from '../../src/witness/protocol.js';
import { makeKey } from '../helpers/log-fixture.js';
import { addCheckpointBody, checkpoint, memoryTree, type MemoryTree } from './fixtures.js';

const utf8 = new TextEncoder();

export interface World {
  dir: string;
  log: Signer;
  otherLog: Signer;
  witnessKey: Signer;
  logPub: string;
  witnessKeyFile: string;
  tree: MemoryTree;
  fork: MemoryTree;
}

export async function world(dir: string): Promise<World> {
  const log = makeKey(join(dir, 'log.key'));
  const otherLog = makeKey(join(dir, 'other-log.key'));
  const witnessKey = makeKey(join(dir, 'witness.key'));
  return {
    dir,
    log,
    otherLog,
    witnessKey,
    logPub: join(dir, 'log.key.pub'),
    witnessKeyFile: join(dir, 'witness.key'),
    tree: memoryTree(70),
    fork: memoryTree(70),
  };
}

function flipLastBase64Char(line: string): string {
  const i = line.trimEnd().length - 3; // before any padding
  const c = line[i] === 'A' ? 'B' : 'A';
  return line.slice(0, i) + c + line.slice(i + 1);
}

export interface Case {
  name: string;
  /** Sizes cosigned (each from the previous) before the request under test. */
  prior: number[];
  body(w: World): string | Uint8Array;
  status: number;
  /** The witness's stored size afterwards (undefined: never cosigned). */
  after: number | undefined;
  /** Exact body for non-200 answers where the spec fixes it. */
  exactBody?: string;
}

export const cases: Case[] = [
  { name: '200: first checkpoint, old 0', prior: [], body: (w) => addCheckpointBody(w.log, w.tree, 0, 5), status: 200, after: 5 },
  { name: '200: the empty tree', prior: [], body: (w) => addCheckpointBody(w.log, w.tree, 0, 0), status: 200, after: 0 },
  { name: '200: extends with a consistency proof', prior: [5], body: (w) => addCheckpointBody(w.log, w.tree, 5, 13), status: 200, after: 13 },
  { name: '200: same size again (fresh timestamp)', prior: [5], body: (w) => addCheckpointBody(w.log, w.tree, 5, 5), status: 200, after: 5 },
  {
    name: '200: signatures by unknown keys are ignored',
    prior: [],
    body: (w) => {
      const note = parseSignedNote(checkpoint(w.log, w.tree, 7));
      const stranger = { keyName: 'example.com/other', keyId: new Uint8Array([1, 2, 3, 4]), signature: new Uint8Array(64).fill(9) };
      return formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: formatSignedNote({ ...note, signatures: [stranger, ...note.signatures] }) });
    },
    status: 200,
    after: 7,
  },
  { name: '404: unknown origin', prior: [5], body: (w) => addCheckpointBody(w.otherLog, w.tree, 5, 8), status: 404, after: 5 },
  {
    name: '403: no signature by the log key',
    prior: [5],
    body: (w) => {
      // Right origin as key name, but signed by another key: its key ID differs, so it is not the log's.
      const origin = logOrigin(keyHash(w.log.publicKey));
      const text = checkpointBody(keyHash(w.log.publicKey), { size: 8, rootHash: w.tree.root(8) });
      const sig = {
        keyName: origin,
        keyId: noteKeyId(origin, NOTE_SIG_TYPE_ED25519, w.otherLog.publicKey),
        signature: w.otherLog.sign(utf8.encode(text)),
      };
      return formatAddCheckpointRequest({ oldSize: 5, proof: w.tree.proof(5, 8), checkpoint: formatSignedNote({ text, signatures: [sig] }) });
    },
    status: 403,
    after: 5,
  },
  {
    name: '403: log signature does not verify',
    prior: [5],
    body: (w) => {
      const body = addCheckpointBody(w.log, w.tree, 5, 8);
      const lines = body.split('\n');
      lines[lines.length - 2] = flipLastBase64Char(lines[lines.length - 2]!);
      return lines.join('\n');
    },
    status: 403,
    after: 5,
  },
  { name: '400: old size larger than the checkpoint size', prior: [9], body: (w) => formatAddCheckpointRequest({ oldSize: 9, proof: [], checkpoint: checkpoint(w.log, w.tree, 8) }), status: 400, after: 9 },
  { name: '400: no old line', prior: [], body: (w) => checkpoint(w.log, w.tree, 5), status: 400, after: undefined },
  { name: '400: old size with a leading zero', prior: [], body: (w) => addCheckpointBody(w.log, w.tree, 0, 5).replace('old 0', 'old 00'), status: 400, after: undefined },
  { name: '400: proof line not base64', prior: [5], body: (w) => addCheckpointBody(w.log, w.tree, 5, 8).replace('old 5\n', 'old 5\n!!!!\n'), status: 400, after: 5 },
  { name: '400: proof line not a 32-byte hash', prior: [5], body: (w) => addCheckpointBody(w.log, w.tree, 5, 8).replace('old 5\n', 'old 5\nAAAA\n'), status: 400, after: 5 },
  {
    name: '400: more than 63 proof lines',
    prior: [],
    body: (w) => `old 0\n${`${Buffer.alloc(32).toString('base64')}\n`.repeat(64)}\n${checkpoint(w.log, w.tree, 5)}`,
    status: 400,
    after: undefined,
  },
  { name: '400: checkpoint without signature lines', prior: [], body: (w) => `old 0\n\n${checkpointBody(keyHash(w.log.publicKey), { size: 5, rootHash: w.tree.root(5) })}`, status: 400, after: undefined },
  { name: '400: not UTF-8', prior: [], body: () => new Uint8Array([0x6f, 0x6c, 0x64, 0x20, 0x30, 0x0a, 0x0a, 0xff, 0xfe, 0x0a]), status: 400, after: undefined },
  { name: '409: old size below the stored size', prior: [5], body: (w) => addCheckpointBody(w.log, w.tree, 3, 8), status: 409, after: 5, exactBody: '5\n' },
  { name: '409: old size given to a witness that never cosigned', prior: [], body: (w) => addCheckpointBody(w.log, w.tree, 5, 8), status: 409, after: undefined, exactBody: '0\n' },
  { name: '409: old 0 to a witness that has cosigned', prior: [5], body: (w) => addCheckpointBody(w.log, w.tree, 0, 8), status: 409, after: 5, exactBody: '5\n' },
  {
    name: '422: consistency proof does not verify',
    prior: [5],
    body: (w) => {
      const proof = w.tree.proof(5, 8);
      proof[0] = asHash(new Uint8Array(proof[0]!).map((b, i) => (i === 0 ? b ^ 1 : b)));
      return formatAddCheckpointRequest({ oldSize: 5, proof, checkpoint: checkpoint(w.log, w.tree, 8) });
    },
    status: 422,
    after: 5,
  },
  { name: '422: a fork (valid proof of a different tree)', prior: [5], body: (w) => addCheckpointBody(w.log, w.fork, 5, 8), status: 422, after: 5 },
  { name: '422: same size, different root', prior: [5], body: (w) => addCheckpointBody(w.log, w.fork, 5, 5), status: 422, after: 5 },
  {
    name: '422: non-empty proof with old size 0',
    prior: [],
    body: (w) => formatAddCheckpointRequest({ oldSize: 0, proof: w.tree.proof(4, 8), checkpoint: checkpoint(w.log, w.tree, 8) }),
    status: 422,
    after: undefined,
  },
  {
    name: '422: empty tree with a root other than H("")',
    prior: [],
    body: (w) => formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: signedCheckpointNote(w.log.publicKey, signTreeHead(w.log, { size: 0, rootHash: w.tree.root(3) })) }),
    status: 422,
    after: undefined,
  },
];

