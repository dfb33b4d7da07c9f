// A loop that runs an async step at a fixed rate: the next step starts
// `intervalMs` after the previous one started, or at once if it took longer,
// so a slow round (a catch-up, a slow witness) does not push every later one
// back. Steps never overlap. A failing step is reported, never fatal.

export interface Periodic {
  /** Stops the loop and waits for a step in progress to finish. */
  stop(): Promise<void>;
}

export interface PeriodicLoop extends Periodic {
  /**
   * Stops the loop and waits for a step in progress to finish, or at most
   * `waitMs`; resolves to whether no step is running any more.
   */
  stopWithin(waitMs: number): Promise<boolean>;
}

export function runPeriodically(
  intervalMs: number,
  step: () => Promise<unknown>,
  onResult: { failed(err: unknown): void; succeeded?(): void },
): PeriodicLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const loop = (): void => {
    const started = Date.now();
    running = step()
      .then(
        () => onResult.succeeded?.(),
        (err: unknown) => onResult.failed(err),
      )
      .then(() => {
        if (!stopped) timer = setTimeout(loop, Math.max(0, intervalMs - (Date.now() - started)));
      });
  };
  timer = setTimeout(loop, 0);
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
    async stopWithin(waitMs) {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      let expiry: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => (expiry = setTimeout(() => resolve(false), waitMs)));
      const finished = await Promise.race([running.then(() => true), expired]);
      clearTimeout(expiry);
      return finished;
    },
  };
}
