/**
 * What every NBD codec shares: the `Decoded` result of parsing untrusted bytes, protocol strings,
 * and the range checks encoders assert on the program's own values.
 *
 * Decoders take untrusted bytes and never throw: they return `{ ok: false, reason }`. Encoders
 * take the program's own values and assert them (a bad value there is our bug).
 */
import { assert } from "../../foundation/assert.js";
import { NBD_STRING_BYTES_MAX } from "./protocol-constants.js";

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export const ok = <T>(value: T): Decoded<T> => ({ ok: true, value });
export const fail = <T>(reason: string): Decoded<T> => ({ ok: false, reason });
export const hex = (value: number | bigint): string => "0x" + value.toString(16);

/** A failure when `buffer` holds fewer than `bytes` bytes, else null. */
export function short<T>(what: string, buffer: Buffer, bytes: number): Decoded<T> | null {
  return buffer.length < bytes
    ? fail(`${what} truncated: ${buffer.length} of ${bytes} bytes`)
    : null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A protocol string: at most 4096 bytes of UTF-8 with no NUL (proto.md §Conventions). */
export function decodeString(what: string, bytes: Buffer): Decoded<string> {
  if (bytes.length > NBD_STRING_BYTES_MAX) {
    return fail(`${what} is ${bytes.length} bytes, more than ${NBD_STRING_BYTES_MAX}`);
  }
  if (bytes.includes(0)) return fail(`${what} contains a NUL byte`);
  try {
    return ok(utf8.decode(bytes));
  } catch {
    return fail(`${what} is not valid UTF-8`);
  }
}

export function u64(value: number | bigint, what: string): bigint {
  const big = BigInt(value);
  assert(big >= 0n && big < 2n ** 64n, `${what} ${value} fits in 64 bits`);
  return big;
}

export function assertUint(value: number, bits: 16 | 32, what: string): void {
  assert(Number.isInteger(value) && value >= 0 && value < 2 ** bits, `${what} fits ${bits} bits`);
}
