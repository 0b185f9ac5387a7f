/**
 * A host's one state, as the API, `etherplane host list` and the web UI show it: its lease and
 * HA's view (failover.ts: `up`, `suspect`, `dead`, `fenced`) combined with the admin's
 * maintenance. Precedence: fenced > dead > suspect > maintenance > up. Trouble with the lease
 * comes first: HA acts on a dead host whether or not it is in maintenance (its HA domains are
 * restarted elsewhere once fenced), and a suspect host may be about to; maintenance is the admin's
 * own choice and shows when the lease is fine.
 */
import type { HostRecord, HostState } from "../model.js";

export function hostState(
  leaseState: HostState,
  maintenance: HostRecord["maintenance"],
): HostState {
  if (leaseState !== "up") return leaseState;
  return maintenance ? "maintenance" : "up";
}
