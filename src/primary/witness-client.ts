// One tlog-witness add-checkpoint exchange over HTTP, reduced to the three
// outcomes the cosigner acts on. Never throws: every failure (network,
// timeout, unexpected status, oversized or undecodable body) becomes a
// `failed` outcome with a reason fit for the operator's log.
import { readStreamCapped } from '../http/body.js';
import { formatAddCheckpointRequest, parseTlogSize, TLOG_SIZE_CONTENT_TYPE, type AddCheckpointRequest } from '../witness/protocol.js';

export type AddCheckpointOutcome =
  | { kind: 'cosigned'; body: string }
  | { kind: 'conflict'; size: number }
  /** `status` is the HTTP status when there was one. */
  | { kind: 'failed'; reason: string; status?: number };

/** Cosignature responses are a few lines; anything much larger is not a witness talking. */
export const MAX_WITNESS_RESPONSE = 64 * 1024;
const USER_AGENT = 'sigsum-log';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** `<base>/add-checkpoint`, adding a slash only when the base lacks one (as sigsum-go does). */
export function addCheckpointUrl(witnessUrl: string): string {
  return witnessUrl.endsWith('/') ? `${witnessUrl}add-checkpoint` : `${witnessUrl}/add-checkpoint`;
}

// A pooled keep-alive connection that the witness closed (say, it restarted)
// fails the request before anything was answered. Sending once more on a new
// connection is safe: add-checkpoint is check-and-update, so a request the
// witness did process is answered 409 with the new size, which the caller
// handles.
const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNRESET', 'EPIPE']);

/** Sends the request; `signal` bounds the whole exchange, body included. */
export async function postAddCheckpoint(witnessUrl: string, req: AddCheckpointRequest, signal: AbortSignal): Promise<AddCheckpointOutcome> {
  const init: RequestInit = {
    method: 'POST',
    body: formatAddCheckpointRequest(req),
    headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': USER_AGENT },
    signal,
    redirect: 'error',
  };
  let res: Response;
  try {
    try {
      res = await fetch(addCheckpointUrl(witnessUrl), init);
    } catch (err) {
      if (signal.aborted || !STALE_CONNECTION_CODES.has(causeCode(err) ?? '')) throw err;
      res = await fetch(addCheckpointUrl(witnessUrl), init);
    }
  } catch (err) {
    return { kind: 'failed', reason: describeFetchError(err, signal) };
  }
  let body: string;
  try {
    body = decodeUtf8(await readStreamCapped(res.body, MAX_WITNESS_RESPONSE, () => new Error(`response larger than ${MAX_WITNESS_RESPONSE} bytes`)));
  } catch (err) {
    return { kind: 'failed', status: res.status, reason: `HTTP ${res.status}, reading the body failed: ${describeFetchError(err, signal)}` };
  }
  if (res.status === 200) return { kind: 'cosigned', body };
  if (res.status === 409) {
    const type = res.headers.get('content-type') ?? '';
    if (type.split(';')[0]!.trim().toLowerCase() !== TLOG_SIZE_CONTENT_TYPE) {
      return { kind: 'failed', status: 409, reason: `HTTP 409 with content type "${type}", not ${TLOG_SIZE_CONTENT_TYPE}: ${quote(body)}` };
    }
    try {
      return { kind: 'conflict', size: parseTlogSize(body) };
    } catch (err) {
      return { kind: 'failed', status: 409, reason: `HTTP 409 with a malformed size: ${(err as Error).message}: ${quote(body)}` };
    }
  }
  return { kind: 'failed', status: res.status, reason: `HTTP ${res.status}: ${quote(body)}` };
}


function causeCode(err: unknown): string | undefined {
  return (err as { cause?: { code?: string } } | undefined)?.cause?.code;
}

function describeFetchError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'timed out';
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause !== undefined ? `${e.message} (${cause})` : String(e?.message ?? err);
}

/** A witness's body for the log: one line, bounded, control characters made visible. */
export function quote(body: string, max = 300): string {
  const oneLine = JSON.stringify(body.length > max ? body.slice(0, max) + '…' : body);
  return oneLine;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new Error('response is not valid UTF-8');
  }
}
