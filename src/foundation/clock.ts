/**
 * Time, as the data path sees it: a monotonic "now" and timers. The core takes a Clock as a
 * parameter (STYLE.md habit 2) so that a simulator can run it on virtual time, advance that time
 * only when nothing else can happen, and replay a run exactly from its seed. `realClock` is the
 * default everywhere, so callers that do not care change nothing.
 */

export interface Timer {
  /** Stops the timer; idempotent, and harmless after a one-shot timer fired. */
  cancel(): void;
}

export interface TimerOptions {
  /** Whether the timer alone may keep the process alive (real clock only; like `Timeout.unref`). */
  keepAlive?: boolean;
}

export interface Clock {
  /**
   * Milliseconds on a monotonic scale. The real clock's scale starts near the Unix epoch (it is
   * `performance.timeOrigin + performance.now()`), so it reads close to `Date.now()`, but it never
   * steps back when the wall clock is set.
   */
  nowMs(): number;
  /** Calls `callback` once, `delayMs` from now. */
  setTimeout(callback: () => void, delayMs: number, options?: TimerOptions): Timer;
  /** Calls `callback` every `intervalMs` until cancelled. */
  setInterval(callback: () => void, intervalMs: number, options?: TimerOptions): Timer;
}

function nodeTimer(handle: NodeJS.Timeout, keepAlive: boolean | undefined, clear: () => void) {
  if (keepAlive === false) handle.unref();
  return { cancel: clear };
}

/** Constant for the process; read once (the getter costs more than `performance.now()`). */
const TIME_ORIGIN_MS = performance.timeOrigin;

export const realClock: Clock = {
  nowMs: () => TIME_ORIGIN_MS + performance.now(),
  setTimeout(callback, delayMs, options) {
    const handle = setTimeout(callback, delayMs);
    return nodeTimer(handle, options?.keepAlive, () => clearTimeout(handle));
  },
  setInterval(callback, intervalMs, options) {
    const handle = setInterval(callback, intervalMs);
    return nodeTimer(handle, options?.keepAlive, () => clearInterval(handle));
  },
};

/** Resolves `delayMs` from now on `clock`. */
export function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(resolve, delayMs);
  });
}
