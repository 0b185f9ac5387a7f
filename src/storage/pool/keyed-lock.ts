/**
 * One call at a time per volume id, inside one process: a pool serialises the calls on a volume
 * so that a create racing a clone of the same id cannot interleave, and `cleanup()` can tell a
 * temporary that a running call still owns (its key is busy) from one a crash left behind.
 */
import { EtherplaneError } from "../../foundation/errors.js";

/** Calls queued on one key before more are refused: the agent converges one volume at a time. */
export const LOCK_WAITERS_MAX = 64;

export class KeyedLock {
  private readonly tails = new Map<string, { promise: Promise<void>; count: number }>();

  /** Whether a call holds `key` or waits for it. */
  isBusy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Runs `fn` holding every key (taken in sorted order, so two calls never deadlock). */
  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const releases: Array<() => void> = [];
    try {
      for (const key of [...new Set(keys)].sort()) releases.push(await this.acquire(key));
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key);
    if (previous && previous.count >= LOCK_WAITERS_MAX) {
      throw new EtherplaneError(
        "CONFLICT",
        `${LOCK_WAITERS_MAX} calls already wait on volume ${key}`,
        { params: { volumeId: key } },
      );
    }
    let release = (): void => {};
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = {
      promise: (previous?.promise ?? Promise.resolve()).then(() => mine),
      count: (previous?.count ?? 0) + 1,
    };
    this.tails.set(key, tail);
    await previous?.promise;
    return () => {
      release();
      const current = this.tails.get(key);
      if (current === tail) this.tails.delete(key);
      else if (current) current.count -= 1;
    };
  }
}
