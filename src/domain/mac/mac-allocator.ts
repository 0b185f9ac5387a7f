/**
 * New vif MACs in the Xen OUI, unique in the cluster.
 *
 * Follows libxl's own choice for a vif without `mac=` (xen-project/xen,
 * tools/libs/light/libxl_nic.c, libxl__device_nic_setdefault): bytes 0..2 are 00:16:3e, byte 3
 * is `r[0] & 0x7f` and bytes 4..5 are `r[1]`, `r[2]` from a random source. The top bit of byte 3
 * stays clear, so the space is 2^23 addresses; keeping to it means a MAC etherplane picks looks
 * like one xl would pick. libxl does not check uniqueness; the controller does, by passing every
 * MAC it knows in `used`.
 */
import { assert } from "../../foundation/assert.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { formatMac, normalizeMac, XEN_OUI } from "./mac-address.js";

/** 00:16:3e:00:00:00 .. 00:16:3e:7f:ff:ff. */
export const XEN_MAC_SPACE_SIZE = 1 << 23;
/**
 * Random draws before the sequential scan. With the space half full, 32 misses in a row happen
 * once in 2^32 allocations: the scan is for a nearly full space (or a small test space).
 */
export const MAC_ATTEMPTS_DEFAULT = 32;
const attemptsMaxLimit = 1024;

/**
 * A random source: either `(count) => bytes` (e.g. node:crypto `randomBytes`) or `() => number`
 * in [0, 1) (e.g. `Math.random`). Told apart by what it returns.
 */
export type MacRandom = (count: number) => number | Uint8Array;

export interface AllocateMacOptions {
  /** Random draws before falling back to a sequential scan; default 32, at most 1024. */
  attemptsMax?: number;
  /** How many addresses from 00:16:3e:00:00:00 up may be used; default 2^23 (tests shrink it). */
  spaceSize?: number;
}

function macAt(index: number): string {
  return formatMac([0x00, 0x16, 0x3e, (index >> 16) & 0x7f, (index >> 8) & 0xff, index & 0xff]);
}

/** The space index of a normalized MAC, or undefined when it is outside the Xen OUI half. */
function indexOf(mac: string): number | undefined {
  if (!mac.startsWith(`${XEN_OUI}:`)) return undefined;
  const low = Number.parseInt(mac.slice(9).replaceAll(":", ""), 16);
  return low < XEN_MAC_SPACE_SIZE ? low : undefined;
}

function draw(random: MacRandom, spaceSize: number): number {
  const value = random(3);
  if (typeof value === "number") {
    if (!(value >= 0 && value < 1)) {
      throw new EtherplaneError("INVALID_ARGUMENT", `random source returned ${value}, not [0, 1)`);
    }
    return Math.floor(value * spaceSize);
  }
  const [r0, r1, r2] = value;
  if (r0 === undefined || r1 === undefined || r2 === undefined) {
    throw new EtherplaneError("INVALID_ARGUMENT", `random source returned ${value.length} bytes`);
  }
  // libxl: mac[3] = r[0] & 0x7f; mac[4] = r[1]; mac[5] = r[2].
  return (((r0 & 0x7f) << 16) | (r1 << 8) | r2) % spaceSize;
}

/**
 * A MAC 00:16:3e:xx:xx:xx (byte 3 below 0x80) not in `used`. `used` holds MACs in any form
 * `normalizeMac` accepts (any OUI); one that is not a MAC is refused, since a form this code does
 * not read could hide a duplicate. Deterministic for a deterministic `random`. CONFLICT when every
 * address of the space is used.
 */
export function allocateMac(
  used: ReadonlySet<string>,
  random: MacRandom,
  options: AllocateMacOptions = {},
): string {
  const spaceSize = options.spaceSize ?? XEN_MAC_SPACE_SIZE;
  const attemptsMax = options.attemptsMax ?? MAC_ATTEMPTS_DEFAULT;
  if (!Number.isInteger(spaceSize) || spaceSize < 1 || spaceSize > XEN_MAC_SPACE_SIZE) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `spaceSize ${spaceSize} is outside 1..${XEN_MAC_SPACE_SIZE}`,
    );
  }
  if (!Number.isInteger(attemptsMax) || attemptsMax < 0 || attemptsMax > attemptsMaxLimit) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `attemptsMax ${attemptsMax} is outside 0..${attemptsMaxLimit}`,
    );
  }
  const taken = new Set<number>();
  for (const mac of used) {
    const index = indexOf(normalizeMac(mac));
    if (index !== undefined && index < spaceSize) taken.add(index);
  }
  if (taken.size >= spaceSize) {
    throw new EtherplaneError(
      "CONFLICT",
      `all ${spaceSize} MAC addresses from ${macAt(0)} to ${macAt(spaceSize - 1)} are in use: ` +
        "remove unused vifs or give the new vif an explicit mac=",
      { params: { spaceSize } },
    );
  }
  let index = 0;
  for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
    index = draw(random, spaceSize);
    if (!taken.has(index)) return macAt(index);
  }
  // Nearly full: walk on from the last draw. A free index exists (checked above), so this ends
  // within spaceSize steps.
  for (let step = 0; step < spaceSize; step += 1) {
    const candidate = (index + step) % spaceSize;
    if (!taken.has(candidate)) return macAt(candidate);
  }
  assert(false, `no free index in a space of ${spaceSize} with ${taken.size} taken`);
}
