/**
 * Whether a guest found by name is the one the caller means: the check every driver makes
 * before it acts (driver.ts). Pure. A name is only an address; the uuid, given at create and
 * read back from the hypervisor (xl list -v, QMP query-uuid), says which guest it is.
 */
import { EtherplaneError } from "../foundation/errors.js";

/** Xen's Domain-0 has the nil uuid (xl list -v prints it); no guest etherplane makes has it. */
export const NIL_UUID = "00000000-0000-0000-0000-000000000000";

export interface FoundGuest {
  name: string;
  domid: number;
  /** As the hypervisor reports it; undefined when it could not say. */
  uuid?: string | undefined;
}

/**
 * Throws CONFLICT unless `found` is the guest with uuid `expected` (any guest but Domain-0 when
 * `expected` is undefined). Nothing is done to a guest this refuses.
 */
export function checkGuestIdentity(found: FoundGuest, expected: string | undefined, what: string) {
  if (found.domid === 0)
    throw new EtherplaneError(
      "CONFLICT",
      `guest ${found.name} is the host's own domain (domid 0): etherplane never acts on it (${what})`,
      { params: { name: found.name, domid: 0 } },
    );
  if (expected === undefined) return;
  const actual = found.uuid?.toLowerCase();
  if (actual !== expected.toLowerCase())
    throw new EtherplaneError(
      "CONFLICT",
      `guest ${found.name} (id ${found.domid}) has uuid ${actual ?? "unknown"}, not ${expected.toLowerCase()}: ` +
        `it is not the guest etherplane started, so it was left alone (no ${what}); ` +
        `stop or rename that guest with its own tools, or rename the domain`,
      { params: { name: found.name, domid: found.domid, uuid: actual ?? null } },
    );
}
