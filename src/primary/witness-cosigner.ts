// Witness cosigning (C2SP tlog-witness): each rotation, every witness of the
// policy that has a URL gets the signed checkpoint with a consistency proof
// from the size it last cosigned, in parallel. Returned cosignatures count
// only after they verify against the witness key in the policy; the head is
// publishable when the verified ones satisfy the policy's quorum.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { toHex } from '../hex.js';
import type { Logger } from '../log.js';
import type { Hash, PublicKey } from '../types.js';
import { verifyCosignature } from '../formats/checkpoint.js';
import { findLog, parsePolicy, quorumSatisfied, QUORUM_NONE, type Policy, type PolicyWitness } from '../formats/policy.js';
import { parseWitnessCosignatures, signedCheckpointNote } from '../formats/signed-note.js';
import type { Cosignature, SignedTreeHead } from '../formats/tree-head.js';
import type { ExtensionContext } from './extensions.js';
import type { Cosigner } from './rotation.js';
import { postAddCheckpoint, quote } from './witness-client.js';
import { SqliteCosignedSizes, type CosignedSizes } from './witness-sizes.js';

/**
 * A witness's cosignature more than this far from our clock is refused: it
 * was either not made for this request or made by a witness whose clock is
 * too wrong for monitors to rely on its timestamps.
 */
export const MAX_CLOCK_SKEW_SECONDS = 600;
/** Repeated identical failures of one witness are logged at most this often (others go to debug). */
export const FAILURE_LOG_INTERVAL_MS = 60_000;

export interface WitnessCosignerDeps {
  policy: Policy;
  logPublicKey: PublicKey;
  logKeyHash: Hash;
  /** Consistency proofs from the local tree (any sizes up to the head being cosigned). */
  consistencyProof(oldSize: number, newSize: number): Hash[];
  sizes: CosignedSizes;
  /** Bound on each witness's whole exchange, 409 resend included. */
  timeoutMs: number;
  /**
   * Once the answers so far satisfy the quorum, how long the round still
   * waits for the other witnesses (their cosignatures are a bonus, not a
   * condition). Default: timeoutMs, i.e. wait for everyone.
   */
  graceMs?: number;
  /** Seconds since the epoch. */
  nowSeconds(): number;
  nowMs(): number;
  log: Logger;
  observer?: CosignObserver;
}

/** One witness's part in a round, as log-go's witness metrics describe it. */
export interface WitnessAttemptReport {
  /** The head's size. */
  size: number;
  ok: boolean;
  /** On failure: the kind (timed out, http-503, conflict, bad-signature...) and the reason logged. */
  kind?: string;
  reason?: string;
  /** log-go's `status` label: "200", the witness's HTTP error status, or "other". */
  status: string;
  /** A 409 was answered by resending from the witness's size. */
  retried: boolean;
  /** The whole exchange, resend included. */
  seconds: number;
}

/** Told each witness's answer and each round's quorum (the status model and /metrics). */
export interface CosignObserver {
  /**
   * The witnesses the cosigner asks, once at construction, each with the size
   * it last cosigned as stored in the database (0: none known), so the figure
   * survives a restart of the primary.
   */
  witnessesConfigured?(witnesses: ReadonlyArray<{ name: string; url: string; keyHashHex: string; storedCosignedSize: number }>): void;
  witnessAnswered(witness: { name: string; url: string; keyHashHex: string }, report: WitnessAttemptReport): void;
  /** seconds: from the start of the round until the cosignature that completed the quorum arrived. */
  quorum(reached: boolean, seconds: number | undefined): void;
}

type Attempt = { ok: true; cosignature: Cosignature } | { ok: false; kind: string; reason: string };

/** What an exchange learnt besides its outcome: for log-go's status and retried labels. */
interface ExchangeTrace {
  retried: boolean;
  /** The witness's HTTP status when it answered with an error (409 included). */
  httpError: number | undefined;
}

interface WitnessLogState {
  failing: string | undefined;
  loggedAt: number;
}

export class WitnessCosigner implements Cosigner {
  readonly witnesses: PolicyWitness[];
  private readonly logState = new Map<string, WitnessLogState>();

  constructor(private readonly deps: WitnessCosignerDeps) {
    this.witnesses = deps.policy.witnesses.filter((w) => w.url !== undefined);
    deps.observer?.witnessesConfigured?.(
      this.witnesses.map((w) => {
        const keyHashHex = toHex(w.keyHash);
        return { name: w.name, url: w.url!, keyHashHex, storedCosignedSize: deps.sizes.get(keyHashHex) };
      }),
    );
  }

  /**
   * Asks every witness at once and waits until each has answered, failed or
   * timed out, so a round never takes longer than `timeoutMs`; once the
   * answers satisfy the quorum, it waits at most `graceMs` more for the
   * rest, so a black-holed witness does not add `timeoutMs` to every head.
   * Must not be called concurrently (the rotator runs one round at a time).
   */
  async cosign(next: SignedTreeHead, _previous: SignedTreeHead): Promise<Cosignature[] | undefined> {
    const note = signedCheckpointNote(this.deps.logPublicKey, next);
    const started = this.deps.nowMs();
    const graceMs = this.deps.graceMs ?? this.deps.timeoutMs;
    const round = new AbortController();
    const answers: Array<{ attempt: Attempt; seconds: number } | undefined> = new Array(this.witnesses.length).fill(undefined);
    const sofar = new Set<string>();
    let graceTimer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      let open = this.witnesses.length;
      if (open === 0) resolve();
      this.witnesses.forEach((w, i) => {
        void this.collect(w, next, note, started, round.signal).then((answer) => {
          answers[i] = answer;
          if (answer.attempt.ok) sofar.add(toHex(w.keyHash));
          if (--open === 0) resolve();
          else if (graceTimer === undefined && answer.attempt.ok && quorumSatisfied(this.deps.policy, sofar)) {
            // A grace reaching past the witnesses' own timeout would change nothing: let them time out.
            const left = this.deps.timeoutMs - (this.deps.nowMs() - started);
            if (graceMs < left) graceTimer = setTimeout(resolve, graceMs);
          }
        });
      });
    });
    clearTimeout(graceTimer);
    // Witnesses still out are cut off (aborted); a late answer is not used.
    round.abort();
    const cutOff = (this.deps.nowMs() - started) / 1000;
    const attempts = answers.map(
      (a) => a ?? { attempt: { ok: false, kind: 'late', reason: `no answer within ${graceMs} ms after the quorum was met` } as Attempt, seconds: cutOff },
    );
    const cosignatures: Cosignature[] = [];
    const verified = new Set<string>();
    attempts.forEach(({ attempt: a }, i) => {
      const w = this.witnesses[i]!;
      this.report(w, a, next.size);
      if (a.ok) {
        cosignatures.push(a.cosignature);
        verified.add(toHex(w.keyHash));
      }
    });
    const reached = quorumSatisfied(this.deps.policy, verified);
    this.deps.observer?.quorum(reached, reached ? this.quorumSeconds(attempts) : undefined);
    if (!reached) {
      this.deps.log.debug(`size ${next.size}: ${verified.size} of ${this.witnesses.length} witnesses cosigned; quorum not met`, { size: next.size, cosigned: verified.size });
      return undefined;
    }
    return cosignatures;
  }

  /** As log-go measures it: when the cosignature that completed the quorum arrived. */
  private quorumSeconds(attempts: ReadonlyArray<{ attempt: Attempt; seconds: number }>): number | undefined {
    const arrivals = attempts
      .map((a, i) => ({ ok: a.attempt.ok, seconds: a.seconds, keyHash: toHex(this.witnesses[i]!.keyHash) }))
      .filter((a) => a.ok)
      .sort((a, b) => a.seconds - b.seconds);
    const have = new Set<string>();
    for (const a of arrivals) {
      have.add(a.keyHash);
      if (quorumSatisfied(this.deps.policy, have)) return a.seconds;
    }
    return undefined;
  }

  /** Never rejects: a local failure (say, reading a proof) fails this witness's round, not everyone's. */
  private async collect(w: PolicyWitness, sth: SignedTreeHead, note: string, started: number, round: AbortSignal): Promise<{ attempt: Attempt; seconds: number }> {
    const trace: ExchangeTrace = { retried: false, httpError: undefined };
    let attempt: Attempt;
    try {
      attempt = await this.exchange(w, sth, note, trace, round);
    } catch (err) {
      attempt = { ok: false, kind: 'internal', reason: `internal error: ${(err as Error)?.message ?? String(err)}` };
    }
    // Cut off by the round (quorum met, grace over), not by its own timeout: say so to the observer.
    if (!attempt.ok && round.aborted) attempt = { ok: false, kind: 'late', reason: 'no answer before the round ended (quorum met, grace over)' };
    const seconds = (this.deps.nowMs() - started) / 1000;
    if (this.deps.observer !== undefined) {
      const status = attempt.ok ? '200' : trace.httpError !== undefined ? String(trace.httpError) : 'other';
      this.deps.observer.witnessAnswered(
        { name: w.name, url: w.url!, keyHashHex: toHex(w.keyHash) },
        attempt.ok
          ? { size: sth.size, ok: true, status, retried: trace.retried, seconds }
          : { size: sth.size, ok: false, kind: attempt.kind, reason: attempt.reason, status, retried: trace.retried, seconds },
      );
    }
    return { attempt, seconds };
  }

  /**
   * One controller for the witness's own timeout and the round's end. Not
   * AbortSignal.any([AbortSignal.timeout(…), round]): Node 20 holds the
   * timeout signal only weakly there, and once collected it never fires (a
   * hanging witness then held the round forever).
   */
  private async exchange(w: PolicyWitness, sth: SignedTreeHead, note: string, trace: ExchangeTrace, round: AbortSignal): Promise<Attempt> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${this.deps.timeoutMs} ms`, 'TimeoutError')), this.deps.timeoutMs);
    const roundOver = (): void => controller.abort(round.reason);
    if (round.aborted) roundOver();
    else round.addEventListener('abort', roundOver, { once: true });
    try {
      return await this.exchangeUntil(w, sth, note, trace, controller.signal);
    } finally {
      clearTimeout(timer);
      round.removeEventListener('abort', roundOver);
    }
  }

  private async exchangeUntil(w: PolicyWitness, sth: SignedTreeHead, note: string, trace: ExchangeTrace, signal: AbortSignal): Promise<Attempt> {
    const id = toHex(w.keyHash);
    let oldSize = this.deps.sizes.get(id);
    // A remembered size beyond this head cannot be sent; ask from 0 and let the 409 tell.
    if (oldSize > sth.size) oldSize = 0;
    for (let resent = false; ; resent = true) {
      trace.retried = resent;
      const proof = oldSize === 0 || oldSize === sth.size ? [] : this.deps.consistencyProof(oldSize, sth.size);
      const outcome = await postAddCheckpoint(w.url!, { oldSize, proof, checkpoint: note }, signal);
      switch (outcome.kind) {
        case 'cosigned': {
          trace.httpError = undefined; // a bad cosignature in a 200 is not an HTTP error: "other"
          const result = this.verify(w, sth, outcome.body);
          // Written only when it changes: an idle round re-cosigns the same size.
          if (result.ok && sth.size !== oldSize) this.deps.sizes.set(id, sth.size);
          return result;
        }
        case 'conflict':
          trace.httpError = 409;
          if (outcome.size > sth.size) {
            return { ok: false, kind: 'ahead', reason: `witness has cosigned size ${outcome.size}, beyond this head's size ${sth.size}` };
          }
          if (resent) return { ok: false, kind: 'conflict', reason: `409 again after resending from size ${oldSize}: witness now at ${outcome.size}` };
          this.deps.log.debug(`witness ${w.name} (${w.url}) answered 409: it has cosigned size ${outcome.size}; resending from there`);
          this.deps.sizes.set(id, outcome.size);
          oldSize = outcome.size;
          continue;
        case 'failed':
          trace.httpError = outcome.status;
          return { ok: false, kind: outcome.status !== undefined ? `http-${outcome.status}` : outcome.reason, reason: outcome.reason };
      }
    }
  }

  private verify(w: PolicyWitness, sth: SignedTreeHead, body: string): Attempt {
    let candidates: Cosignature[];
    try {
      candidates = parseWitnessCosignatures(body, w.publicKey);
    } catch (err) {
      return { ok: false, kind: 'garbage', reason: `malformed response (${(err as Error).message}): ${quote(body)}` };
    }
    if (candidates.length === 0) {
      return { ok: false, kind: 'wrong-key', reason: `no cosignature line by the witness key in the policy: ${quote(body)}` };
    }
    const now = this.deps.nowSeconds();
    let why = '';
    for (const c of candidates) {
      if (!verifyCosignature(w.publicKey, this.deps.logKeyHash, sth, c)) {
        why = 'cosignature does not verify';
        continue;
      }
      if (c.timestamp === 0 || Math.abs(c.timestamp - now) > MAX_CLOCK_SKEW_SECONDS) {
        why = `cosignature timestamp ${c.timestamp} is ${c.timestamp - now} s off our clock`;
        continue;
      }
      return { ok: true, cosignature: c };
    }
    return { ok: false, kind: 'bad-signature', reason: `${why}: ${quote(body)}` };
  }

  /** log-go's rule, plus a time bound: a new kind of failure is worth a warning; a repeat is debug. */
  private report(w: PolicyWitness, a: Attempt, size: number): void {
    const { log } = this.deps;
    const name = `witness ${w.name} (${w.url})`;
    const state = this.logState.get(w.name) ?? { failing: undefined, loggedAt: Number.NEGATIVE_INFINITY };
    this.logState.set(w.name, state);
    const now = this.deps.nowMs();
    if (a.ok) {
      if (state.failing !== undefined) log.info(`${name} cosigned size ${size} again`, { witness: w.name, size });
      state.failing = undefined;
      return;
    }
    const message = `${name} did not cosign size ${size}: ${a.reason}`;
    const fields = { witness: w.name, size, status: a.kind };
    if (state.failing !== a.kind || now - state.loggedAt >= FAILURE_LOG_INTERVAL_MS) {
      log.warning(message, fields);
      state.loggedAt = now;
    } else {
      log.debug(message, fields);
    }
    state.failing = a.kind;
  }
}

/**
 * The cosigner for `[primary] policy-file`; undefined when no policy file is
 * configured or its quorum is `none` (heads are published without
 * cosignatures then).
 */
export function buildCosigner(ctx: ExtensionContext): Cosigner | undefined {
  const file = ctx.config.primary.policyFile;
  if (file === '') return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read policy-file ${file}: ${(err as Error).message}`);
  }
  let policy: Policy;
  try {
    policy = parsePolicy(text);
  } catch (err) {
    throw new ConfigError(`policy-file ${file}: ${(err as Error).message}`);
  }
  if (policy.quorum.kind === 'group' && policy.quorum.name === QUORUM_NONE) {
    ctx.log.info(`policy-file ${file}: quorum none; tree heads are published without cosignatures`);
    return undefined;
  }
  checkPolicy(policy, file, ctx);
  const cosigner = new WitnessCosigner({
    policy,
    logPublicKey: ctx.logPublicKey,
    logKeyHash: ctx.logKeyHash,
    consistencyProof: (oldSize, newSize) => ctx.tree.consistencyProof(oldSize, newSize),
    sizes: new SqliteCosignedSizes(ctx.tree.db),
    timeoutMs: ctx.config.timeoutMs,
    graceMs: Math.min(ctx.config.primary.witnessGraceMs, ctx.config.timeoutMs),
    nowSeconds: () => Math.floor(Date.now() / 1000),
    nowMs: () => Date.now(),
    log: ctx.log,
    observer: ctx.observe?.cosign,
  });
  ctx.log.info(
    `witnesses: ${cosigner.witnesses.map((w) => `${w.name} ${w.url}`).join(', ')}; tree heads are published once cosigned per the policy quorum`,
  );
  return cosigner;
}

function checkPolicy(policy: Policy, file: string, ctx: ExtensionContext): void {
  const reachable = policy.witnesses.filter((w) => w.url !== undefined);
  for (const w of reachable) {
    let url: URL;
    try {
      url = new URL(w.url!);
    } catch {
      throw new ConfigError(`policy-file ${file}: witness ${w.name} has an invalid URL "${w.url}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(`policy-file ${file}: witness ${w.name} URL must be http or https, got "${w.url}"`);
    }
  }
  // Refuse a policy the log could never satisfy: it would never publish again.
  if (!quorumSatisfied(policy, new Set(reachable.map((w) => toHex(w.keyHash))))) {
    throw new ConfigError(
      `policy-file ${file}: the quorum cannot be met by the witnesses that have a URL (${reachable.map((w) => w.name).join(', ') || 'none'}); the log would never publish a tree head`,
    );
  }
  if (findLog(policy, ctx.logKeyHash) === undefined) {
    ctx.log.warning(`policy-file ${file} does not list this log's key; submitters using it will not accept this log's proofs`);
  }
}
