// Admission control for add-leaf's expensive step: a new leaf's signature
// check (and its submit token's). Each check in progress holds a slot; a
// request finding no slot is answered 503 with Retry-After at once, without
// verifying, so neither one client nor all together can queue unbounded work
// (memory) or take every verification (CPU) from the others. A client is an
// address key (src/http/request.ts: IPv4 address or IPv6 /64).
import { UnavailableError } from '../errors.js';

export class VerificationSlots {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerClient: number,
  ) {}

  /** Slots in use (for tests and metrics). */
  get inUse(): number {
    return this.total;
  }

  /** Clients holding a slot; entries go when their last slot is released, so this is at most maxTotal. */
  get clients(): number {
    return this.perClient.size;
  }

  /** Takes a slot for the client, or throws UnavailableError (503). Pair with release(). */
  acquire(client: string): void {
    if (this.total >= this.maxTotal) {
      throw new UnavailableError(`the log is busy: ${this.total} signature checks are in progress; retry later`, 1);
    }
    const held = this.perClient.get(client) ?? 0;
    if (held >= this.maxPerClient) {
      throw new UnavailableError(`too many add-leaf requests from your address in progress (at most ${this.maxPerClient}); retry later`, 1);
    }
    this.perClient.set(client, held + 1);
    this.total++;
  }

  release(client: string): void {
    const held = this.perClient.get(client);
    if (held === undefined) return;
    if (held <= 1) this.perClient.delete(client);
    else this.perClient.set(client, held - 1);
    this.total--;
  }
}
