// A tiny authoritative DNS server for tests: UDP on 127.0.0.1, answers TXT
// queries from a map, NXDOMAIN for names not in it. Just enough of RFC 1035
// for c-ares (node:dns) and similar stub resolvers.
import { createSocket, type RemoteInfo } from 'node:dgram';

/** One TXT record: a string (split into 255-byte character-strings as needed), or explicit character-strings. */
export type TxtRecord = string | readonly string[];

export interface TestDnsServer {
  /** "127.0.0.1:<port>", as taken by node:dns setServers. */
  readonly address: string;
  readonly port: number;
  /** Lowercase name without trailing dot -> TXT records. Mutable between queries. */
  readonly records: Map<string, TxtRecord[]>;
  /** Names whose queries get no answer at all (to provoke timeouts). */
  readonly silent: Set<string>;
  /** Names answered with SERVFAIL. */
  readonly servfail: Set<string>;
  /** Every question name received, lowercase, in order. */
  readonly queries: string[];
  close(): Promise<void>;
}

const TYPE_TXT = 16;
const TYPE_ANY = 255;
const CLASS_IN = 1;
const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
const TTL_SECONDS = 60;

export async function startDnsServer(initial: Record<string, TxtRecord[]> = {}): Promise<TestDnsServer> {
  const records = new Map<string, TxtRecord[]>();
  for (const [name, recs] of Object.entries(initial)) records.set(name.toLowerCase(), recs);
  const silent = new Set<string>();
  const servfail = new Set<string>();
  const queries: string[] = [];

  const socket = createSocket('udp4');
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const reply = answer(msg, { records, silent, servfail, queries });
    if (reply !== undefined) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    records,
    silent,
    servfail,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

interface State {
  records: Map<string, TxtRecord[]>;
  silent: Set<string>;
  servfail: Set<string>;
  queries: string[];
}

interface Question {
  name: string;
  type: number;
  klass: number;
  /** Offset just past the question, so it can be echoed verbatim. */
  end: number;
}

/** Builds the reply to one datagram, or undefined to drop it. */
function answer(msg: Buffer, state: State): Buffer | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) !== 0) return undefined; // a response, not a query
  const opcode = (flags >> 11) & 0xf;
  const rd = flags & 0x0100;
  const qdcount = msg.readUInt16BE(4);

  const header = (rcode: number, qd: number, an: number): Buffer => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(id, 0);
    // QR, the query's opcode, AA, the query's RD; no recursion available.
    h.writeUInt16BE(0x8000 | (opcode << 11) | 0x0400 | rd | rcode, 2);
    h.writeUInt16BE(qd, 4);
    h.writeUInt16BE(an, 6);
    return h;
  };

  if (opcode !== 0) return header(RCODE_NOTIMP, 0, 0);
  if (qdcount !== 1) return header(RCODE_FORMERR, 0, 0);
  let q: Question;
  try {
    q = readQuestion(msg, 12);
  } catch {
    return header(RCODE_FORMERR, 0, 0);
  }
  state.queries.push(q.name);
  const question = msg.subarray(12, q.end);
  if (state.silent.has(q.name)) return undefined;
  if (state.servfail.has(q.name)) return Buffer.concat([header(RCODE_SERVFAIL, 1, 0), question]);

  const recs = state.records.get(q.name);
  if (recs === undefined) return Buffer.concat([header(RCODE_NXDOMAIN, 1, 0), question]);
  // The name exists; other types get an empty NOERROR answer (NODATA).
  const wanted = q.klass === CLASS_IN && (q.type === TYPE_TXT || q.type === TYPE_ANY);
  const answers = wanted ? recs.map(encodeTxtAnswer) : [];
  return Buffer.concat([header(0, 1, answers.length), question, ...answers]);
}

function readQuestion(msg: Buffer, offset: number): Question {
  const { name, end } = readName(msg, offset);
  if (end + 4 > msg.length) throw new Error('truncated question');
  return { name, type: msg.readUInt16BE(end), klass: msg.readUInt16BE(end + 2), end: end + 4 };
}

/** Reads a possibly compressed name; returns it lowercase, without trailing dot. */
function readName(msg: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  let end: number | undefined;
  for (let jumps = 0; ; ) {
    if (offset >= msg.length) throw new Error('truncated name');
    const len = msg[offset]!;
    if ((len & 0xc0) === 0xc0) {
      if (offset + 1 >= msg.length || ++jumps > 16) throw new Error('bad compression pointer');
      end ??= offset + 2;
      offset = ((len & 0x3f) << 8) | msg[offset + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Error('unsupported label type');
    if (len === 0) {
      end ??= offset + 1;
      break;
    }
    if (offset + 1 + len > msg.length) throw new Error('truncated label');
    labels.push(msg.toString('latin1', offset + 1, offset + 1 + len));
    offset += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end };
}

function encodeTxtAnswer(record: TxtRecord): Buffer {
  const chunks = typeof record === 'string' ? splitCharacterStrings(Buffer.from(record, 'utf8')) : record.map((s) => Buffer.from(s, 'utf8'));
  const rdata = Buffer.concat(
    chunks.map((c) => {
      if (c.length > 255) throw new Error('TXT character-string longer than 255 bytes');
      return Buffer.concat([Buffer.from([c.length]), c]);
    }),
  );
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0); // pointer to the question name at offset 12
  rr.writeUInt16BE(TYPE_TXT, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(TTL_SECONDS, 6);
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([rr, rdata]);
}

function splitCharacterStrings(bytes: Buffer): Buffer[] {
  if (bytes.length === 0) return [bytes];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}
