// The drill's client: workers that each submit a new unique leaf and repeat
// add-leaf every retryMs until it answers 200, as sigsum-submit does, then
// take the next one. For every leaf it records whether it ever saw 202, which
// backend answered 200 (the load balancer's x-backend), and the leaf's index
// from an inclusion proof that backend serves, verified against its head.
import { toHex } from '../../src/hex.js';
import { parseCosignedTreeHead, parseInclusionProof } from '../../src/formats/messages.js';
import { verifyInclusion } from '../../src/tree/verify.js';
import type { Signer } from '../../src/types.js';
import { http } from '../helpers/node-process.js';
import { makeLeaf, type TestLeaf } from '../helpers/submitter.js';

export interface LeafRecord {
  leaf: TestLeaf;
  leafHashHex: string;
  saw202: boolean;
  /** The backend whose add-leaf answered 200 first. */
  publishedBy?: string;
  /** From that backend's inclusion proof; unset when it died before answering. */
  index?: number;
}

export class SubmittingClient {
  readonly records: LeafRecord[] = [];
  readonly errors: string[] = [];
  private makingNew = true;
  private deadline = Number.POSITIVE_INFINITY;
  private workers: Array<Promise<void>> = [];

  constructor(
    private readonly url: string,
    private readonly signer: Signer,
    private readonly workerCount = 16,
    private readonly retryMs = 200,
  ) {}

  start(): void {
    this.workers = Array.from({ length: this.workerCount }, () => this.work());
  }

  publishedBy(backend: string): LeafRecord[] {
    return this.records.filter((r) => r.publishedBy === backend);
  }

  /** Stops making new leaves and waits until every leaf made so far got 200. */
  async finish(timeoutMs: number): Promise<void> {
    this.makingNew = false;
    this.deadline = Date.now() + timeoutMs;
    await Promise.all(this.workers);
    const left = this.records.filter((r) => r.publishedBy === undefined);
    if (left.length > 0) throw new Error(`${left.length} leaves never got 200 within ${timeoutMs} ms; errors: ${this.errors.slice(0, 5).join('; ')}`);
  }

  private async work(): Promise<void> {
    while (this.makingNew) {
      const leaf = makeLeaf(this.signer);
      const record: LeafRecord = { leaf, leafHashHex: toHex(leaf.leafHash), saw202: false };
      this.records.push(record);
      await this.untilPublished(record);
    }
  }

  private async untilPublished(record: LeafRecord): Promise<void> {
    while (Date.now() < this.deadline) {
      let status: number;
      let backend: string;
      try {
        const res = await http(`${this.url}/add-leaf`, { method: 'POST', body: record.leaf.body }, 60_000);
        status = res.status;
        backend = res.headers.get('x-backend') ?? '';
      } catch (err) {
        this.errors.push(`add-leaf: ${(err as Error).message}`);
        status = 0;
        backend = '';
      }
      if (status === 200) {
        record.publishedBy = backend;
        record.index = await indexFromProof(backend, record);
        return;
      }
      if (status === 202) record.saw202 = true;
      else if (status !== 503 && status !== 0) this.errors.push(`add-leaf answered ${status} (backend ${backend})`);
      await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }
}

/** The leaf's index in the backend's published tree, from a verified inclusion proof; undefined if it does not answer. */
async function indexFromProof(backend: string, record: LeafRecord): Promise<number | undefined> {
  try {
    const res = await http(`${backend}/get-tree-head`, {}, 5_000);
    if (res.status !== 200) return undefined;
    const head = parseCosignedTreeHead(res.body);
    if (head.size === 1) return 0;
    const proofRes = await http(`${backend}/get-inclusion-proof/${head.size}/${record.leafHashHex}`, {}, 5_000);
    if (proofRes.status !== 200) throw new Error(`get-inclusion-proof answered ${proofRes.status}: ${proofRes.body}`);
    const proof = parseInclusionProof(proofRes.body);
    if (!verifyInclusion(record.leaf.leafHash, proof.leafIndex, head.size, proof.path, head.rootHash)) {
      throw new Error(`inclusion proof for ${record.leafHashHex} from ${backend} does not verify`);
    }
    return proof.leafIndex;
  } catch (err) {
    if (err instanceof TypeError || (err as Error).name === 'TimeoutError') return undefined; // the backend died
    throw err;
  }
}
