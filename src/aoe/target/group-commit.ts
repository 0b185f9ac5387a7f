/**
 * Group commit for durable exports: many writes share one fdatasync. A caller of `sync()` is
 * released by the first flush that *starts* after its call, so every write that completed before
 * `sync()` was called is on stable storage when it resolves. At most one flush runs at a time;
 * callers arriving meanwhile wait for the next one, which covers them all.
 */
export class GroupCommit {
  private running = false;
  private waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  constructor(private readonly flush: () => Promise<void>) {}

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.running) this.start();
    });
  }

  private start(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.running = true;
    this.flush().then(
      () => this.finish(batch, undefined),
      (error: unknown) => this.finish(batch, error ?? new Error("flush failed")),
    );
  }

  private finish(batch: typeof this.waiting, error: unknown): void {
    this.running = false;
    for (const waiter of batch) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
    if (this.waiting.length > 0) this.start();
  }
}
