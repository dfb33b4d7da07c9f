// Records every distinct tree head the watched backends publish, in the
// order seen, by polling their public get-tree-head directly (not through
// the load balancer: its cache is the monitor's).
import { parseCosignedTreeHead } from '../../src/formats/messages.js';
import type { CosignedTreeHead } from '../../src/formats/tree-head.js';
import { toHex } from '../../src/hex.js';
import { http } from '../helpers/node-process.js';

export class HeadRecorder {
  private readonly seen = new Map<string, CosignedTreeHead[]>();
  private readonly watched = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();

  constructor(private readonly everyMs = 100) {}

  /** Starts recording a backend's heads under `name`. */
  watch(name: string, publicUrl: string): void {
    this.watched.set(name, publicUrl);
    if (!this.seen.has(name)) this.seen.set(name, []);
  }

  unwatch(name: string): void {
    this.watched.delete(name);
  }

  heads(name: string): CosignedTreeHead[] {
    return this.seen.get(name) ?? [];
  }

  /** Adds a head known otherwise (a dead primary's sth file) if it is newer than the last one recorded. */
  add(name: string, head: CosignedTreeHead): void {
    const list = this.seen.get(name) ?? [];
    this.seen.set(name, list);
    const last = list[list.length - 1];
    if (last === undefined || head.size > last.size) list.push(head);
  }

  start(): void {
    const tick = (): void => {
      this.polling = this.pollOnce().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.everyMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  private async pollOnce(): Promise<void> {
    await Promise.all(
      [...this.watched].map(async ([name, url]) => {
        try {
          const res = await http(`${url}/get-tree-head`, {}, 2_000);
          if (res.status !== 200) return;
          const head = parseCosignedTreeHead(res.body);
          const list = this.seen.get(name) as CosignedTreeHead[];
          const last = list[list.length - 1];
          if (last === undefined || last.size !== head.size || toHex(last.rootHash) !== toHex(head.rootHash)) list.push(head);
        } catch {
          // down or not up yet: nothing published to record
        }
      }),
    );
  }
}
