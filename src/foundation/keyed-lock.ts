/**
 * One call at a time per key, inside one process: the one per-key lock of the tree. A storage
 * pool serialises the calls on a volume (a create racing a clone of the same id cannot
 * interleave, and `cleanup()` tells a temporary a running call still owns, its key busy, from one
 * a crash left behind); the hypervisor drivers serialise the calls on a guest; the AoE target's
 * state store the file operations of an export. Waiters are bounded: past `waitersMax` on one
 * key, a call is refused with CONFLICT rather than queued without end.
 */
import { EtherplaneError } from "./errors.js";

/** Calls queued on one key before more are refused (the default). */
export const LOCK_WAITERS_MAX = 64;

export interface KeyedLockOptions {
  /** Calls that may hold or wait for one key; more are refused. */
  waitersMax?: number;
  /** What a key names, for the refusal: "volume", "guest". */
  what?: string;
  /** The refusal's parameter that carries the key, e.g. volumeId. */
  param?: string;
}

export class KeyedLock {
  private readonly tails = new Map<string, { promise: Promise<void>; count: number }>();
  private readonly waitersMax: number;
  private readonly what: string;
  private readonly param: string;

  constructor(options: KeyedLockOptions = {}) {
    this.waitersMax = options.waitersMax ?? LOCK_WAITERS_MAX;
    this.what = options.what ?? "key";
    this.param = options.param ?? "key";
  }

  /** Whether a call holds `key` or waits for it. */
  isBusy(key: string): boolean {
    return this.tails.has(key);
  }

  /**
   * Runs `fn` after every earlier call on its keys has settled (resolved or thrown), holding
   * them all (taken in sorted order, so two calls never deadlock).
   */
  async run<T>(keys: string | readonly string[], fn: () => Promise<T>): Promise<T> {
    const releases: Array<() => void> = [];
    try {
      const unique = [...new Set(typeof keys === "string" ? [keys] : keys)].sort();
      for (const key of unique) releases.push(await this.acquire(key));
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key);
    if (previous && previous.count >= this.waitersMax) {
      throw new EtherplaneError(
        "CONFLICT",
        `${this.waitersMax} calls already wait on ${this.what} ${key}; try again when they are done`,
        { params: { [this.param]: key } },
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
