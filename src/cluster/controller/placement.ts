/**
 * Where a domain can run: the checks every start makes before any guest starts (capacity,
 * networks, disks), and the choice of a host when none is named. Pure: the caller gathers the
 * records.
 */
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import type { DomainRecord, HostRecord, HostState, NetworkRecord, VolumeRecord } from "../model.js";
import { hostSanMacs } from "./volume-access.js";

/** A host whose agent has not reported for this long is not offered new domains. */
export const HOST_FRESH_MS = 30_000;

export interface PlacementInput {
  domain: DomainRecord;
  hosts: readonly HostRecord[];
  /** Every domain in the cluster (for memory already promised and disks in use). */
  domains: readonly DomainRecord[];
  networks: readonly NetworkRecord[];
  /** The domain's disks' volumes, by volume id. */
  volumes: ReadonlyMap<string, VolumeRecord>;
  nowMs: number;
  /** The controller's view of each host (failover.ts): only `up` hosts are offered domains. */
  hostState?: (hostId: string) => HostState;
}

/** Memory a host can still give: what its hypervisor reports free, less what is promised. */
export function availableMemoryMiB(
  host: HostRecord,
  domains: readonly DomainRecord[],
  exceptId: string,
): number {
  const hv = host.inventory?.hypervisor;
  if (!hv) return 0;
  let available = hv.freeMemoryMiB;
  for (const other of domains) {
    if (other.id === exceptId || other.hostId !== host.id) continue;
    const running = other.observed !== null && other.observed.state !== "stopped";
    // The hypervisor's free memory already excludes running guests; count the ones on their way.
    if (running) continue;
    if (other.desiredState !== "stopped") available -= other.memoryMiB;
  }
  return available;
}

/** Why `host` cannot run the domain, or undefined when it can. */
export function unfitReason(host: HostRecord, input: PlacementInput): string | undefined {
  const { domain } = input;
  if (!host.roles.includes("compute")) return `host ${host.name} has no compute role`;
  const hv = host.inventory?.hypervisor;
  if (!hv) return `host ${host.name} has not reported a hypervisor (is its agent running?)`;
  const state = input.hostState?.(host.id);
  if (state !== undefined && state !== "up") return `host ${host.name} is ${state}`;
  // Without the lease's view (a caller that has none), the last report must be recent.
  const stale = host.lastSeenMs === null || input.nowMs - host.lastSeenMs > HOST_FRESH_MS;
  if (state === undefined && stale)
    return `host ${host.name}'s agent has not reported for over ${HOST_FRESH_MS / 1000} s`;
  if (domain.vcpus > hv.cpus)
    return `domain ${domain.name} wants ${domain.vcpus} vCPUs but host ${host.name} has ${hv.cpus} CPUs`;
  const free = availableMemoryMiB(host, input.domains, domain.id);
  if (domain.memoryMiB > free)
    return `domain ${domain.name} wants ${domain.memoryMiB} MiB but host ${host.name} has ${Math.max(0, free)} MiB free`;
  const bridges = new Set(input.networks.filter((n) => n.hostId === host.id).map((n) => n.bridge));
  for (const vif of domain.vifs) {
    if (!bridges.has(vif.bridge))
      return (
        `host ${host.name} has no network with bridge ${vif.bridge}; ` +
        `create one: etherplane network create ${vif.bridge} --host ${host.name}`
      );
  }
  // Volume access is not a reason to refuse: the start grants this host's SAN MACs on the
  // domain's volumes (volume-grants.ts). The host must have reported them, though.
  if (domain.disks.some((d) => d.volumeId !== null)) {
    try {
      hostSanMacs(host);
    } catch (error) {
      return errorMessage(error);
    }
  }
  return undefined;
}

/** Why the domain's disks cannot be used anywhere, or undefined. */
export function diskProblem(input: PlacementInput): string | undefined {
  const { domain } = input;
  for (const disk of domain.disks) {
    if (disk.volumeId === null)
      return `disk ${disk.vdev}: ${disk.target} is not an etherplane volume; create a volume named ${disk.target.split("/").pop() ?? disk.target} or edit the domain (etherplane domain edit ${domain.name})`;
    const volume = input.volumes.get(disk.volumeId);
    if (!volume)
      return `disk ${disk.vdev}: its volume no longer exists; edit the domain (etherplane domain edit ${domain.name})`;
    if (volume.state !== "ready")
      return `disk ${disk.vdev}: volume ${volume.name} is ${volume.state}${volume.error ? ` (${volume.error})` : ""}; wait for it or fix it`;
    if (!volume.exported)
      return `disk ${disk.vdev}: volume ${volume.name} is not exported: etherplane volume export ${volume.name}`;
    if (!disk.readOnly) {
      const user = input.domains.find(
        (other) =>
          other.id !== domain.id &&
          other.desiredState !== "stopped" &&
          other.disks.some((d) => d.volumeId === volume.id && !d.readOnly),
      );
      if (user)
        return `disk ${disk.vdev}: volume ${volume.name} is in use (writable) by domain ${user.name}`;
    }
  }
  return undefined;
}

/** The host to start on: the named one if it fits, else the fitting one with most free memory. */
export function placeDomain(input: PlacementInput, hostRef?: string): HostRecord {
  const problem = diskProblem(input);
  if (problem) throw new EtherplaneError("CONFLICT", problem, { params: { field: "disk" } });
  if (hostRef !== undefined) {
    const host = input.hosts.find((h) => h.id === hostRef || h.name === hostRef);
    if (!host)
      throw new EtherplaneError("NOT_FOUND", `no host "${hostRef}"; see etherplane host list`, {
        params: { field: "host" },
      });
    const reason = unfitReason(host, input);
    if (reason) throw new EtherplaneError("CONFLICT", reason, { params: { field: "host" } });
    return host;
  }
  const reasons: string[] = [];
  let best: { host: HostRecord; free: number } | undefined;
  for (const host of input.hosts) {
    const reason = unfitReason(host, input);
    if (reason) {
      reasons.push(reason);
      continue;
    }
    const free = availableMemoryMiB(host, input.domains, input.domain.id);
    if (!best || free > best.free) best = { host, free };
  }
  if (!best)
    throw new EtherplaneError(
      "CONFLICT",
      `no host can run domain ${input.domain.name}: ${reasons.length ? reasons.join("; ") : "there are no hosts"}`,
    );
  return best.host;
}
