/** A row of `xl list -v` as the HypervisorDriver reports a guest. */
import type { GuestInfo } from "../driver.js";
import type { XlListRow } from "./xl-list.js";

export function toGuestInfo(row: XlListRow): GuestInfo {
  return {
    name: row.name,
    domid: row.domid,
    // Domain-0's row prints the nil UUID; without -v there is none at all.
    uuid: row.uuid ?? "00000000-0000-0000-0000-000000000000",
    memoryMiB: row.memoryMiB,
    vcpus: row.vcpus,
    state: row.state,
    cpuTimeS: row.cpuTimeS,
    exit: row.exit,
  };
}
