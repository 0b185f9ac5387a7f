/**
 * Assertions are for the program's own bugs: they crash loudly. Untrusted input is validated
 * instead (a reason string, counted and dropped), never asserted (TIGER_STYLE).
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = "AssertionError";
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function unreachable(value: never, what: string): never {
  throw new AssertionError(`unreachable ${what}: ${String(value)}`);
}
