/**
 * Virtual time for simulations: timers fire only when the simulator advances the clock, in the
 * order of their due time (then of their creation), so a run depends on its seed alone and a
 * failure replays exactly. Time moves only when nothing else can happen: `runUntil` lets the
 * event loop finish every promise and immediate first, then jumps to the next due timer.
 */
import type { Clock, Timer } from "./clock.js";

interface Entry {
  atMs: number;
  seq: number;
  callback: () => void;
  /** Set for setInterval timers. */
  intervalMs?: number;
  cancelled: boolean;
}

/** Entries ordered by (atMs, seq): a binary min-heap. */
function before(a: Entry, b: Entry): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** A bound on the timers a simulation may hold at once: a leak shows up as a crash, not as swap. */
export const SIM_TIMERS_MAX = 1_000_000;

export class SimClock implements Clock {
  private now: number;
  private seq = 0;
  private readonly heap: Entry[] = [];
  /** Timer callbacks run so far. */
  steps = 0;

  constructor(startMs = 1_000_000) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  setTimeout(callback: () => void, delayMs: number): Timer {
    return this.add(callback, delayMs, undefined);
  }

  setInterval(callback: () => void, intervalMs: number): Timer {
    return this.add(callback, intervalMs, Math.max(intervalMs, 0.001));
  }

  private add(callback: () => void, delayMs: number, intervalMs: number | undefined): Timer {
    if (this.heap.length >= SIM_TIMERS_MAX)
      throw new Error(`simulated clock: more than ${SIM_TIMERS_MAX} timers (a timer leak?)`);
    const entry: Entry = {
      atMs: this.now + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0),
      seq: this.seq++,
      callback,
      cancelled: false,
      ...(intervalMs === undefined ? {} : { intervalMs }),
    };
    this.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Due time of the next live timer, or undefined when none is pending. */
  nextAtMs(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.atMs;
  }

  /** Timers pending (cancelled ones may still be counted until they reach the top). */
  get pending(): number {
    return this.heap.length;
  }

  /** Advances to the next due timer and runs it. Returns false when no timer is pending. */
  step(): boolean {
    this.dropCancelled();
    const entry = this.pop();
    if (!entry) return false;
    this.now = Math.max(this.now, entry.atMs);
    if (entry.intervalMs !== undefined) {
      entry.atMs = this.now + entry.intervalMs;
      entry.seq = this.seq++;
      this.push(entry);
    }
    this.steps++;
    entry.callback();
    return true;
  }

  /**
   * Runs the simulation until `done()` holds: lets the event loop settle (promises, immediates),
   * checks `done`, otherwise fires the next timer, and again. `afterStep` runs after each timer
   * (invariant checks). Fails when no timer is left (a deadlock) or `virtualMsMax` passes.
   */
  async runUntil(
    done: () => boolean,
    what: string,
    options: { virtualMsMax?: number; afterStep?: () => void } = {},
  ): Promise<void> {
    const limitMs = this.now + (options.virtualMsMax ?? 600_000);
    for (;;) {
      await settle();
      if (done()) return;
      const next = this.nextAtMs();
      if (next === undefined)
        throw new Error(`simulation: nothing left to happen while waiting for ${what}`);
      if (next > limitMs)
        throw new Error(
          `simulation: ${what} did not happen within ${options.virtualMsMax ?? 600_000} virtual ms`,
        );
      this.step();
      options.afterStep?.();
    }
  }

  /** Runs the simulation until `promise` settles, and returns its outcome. */
  async run<T>(
    promise: Promise<T>,
    what = "a promise",
    options: { virtualMsMax?: number; afterStep?: () => void } = {},
  ): Promise<T> {
    let settled = false;
    const observed = promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    await this.runUntil(() => settled, what, options);
    await observed;
    return promise;
  }

  /** Runs every timer due within `ms` of now, then sets the clock to now + ms. */
  async advance(ms: number): Promise<void> {
    const untilMs = this.now + ms;
    for (;;) {
      await settle();
      const next = this.nextAtMs();
      if (next === undefined || next > untilMs) break;
      this.step();
    }
    this.now = untilMs;
    await settle();
  }

  private dropCancelled(): void {
    while (this.heap[0]?.cancelled) this.pop();
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent] as Entry)) break;
      heap[i] = heap[parent] as Entry;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): Entry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && before(heap[right] as Entry, heap[left] as Entry) ? right : left;
      if (!before(heap[child] as Entry, last)) break;
      heap[i] = heap[child] as Entry;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

/**
 * Lets the event loop run everything that does not wait for time: all promise callbacks, then
 * immediates (twice, for code that queues an immediate from an immediate, as a socket flush does).
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
