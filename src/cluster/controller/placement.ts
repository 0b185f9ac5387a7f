/**
 * Where a domain can run: the checks every start makes before any guest starts (capacity with the
 * cluster's overcommit, networks, disks, pinning, maintenance), anti-affinity, and a score that
 * says why one host wins. Pure: the caller gathers the records. `planPlacement` assesses every
 * host (`etherplane place`); `placeDomain` is the choice start, migrate and evacuation act on.
 */
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import type { DomainRecord, HostRecord, HostState, NetworkRecord, VolumeRecord } from "../model.js";
import { hostSanMacs } from "./volume-access.js";

/** A host whose agent has not reported for this long is not offered new domains. */
export const HOST_FRESH_MS = 30_000;

/** The cluster's placement settings (cluster-settings.ts validates and stores them). */
export interface PlacementSettings {
  /** vCPUs the domains of a host may have in all, per CPU of the host. */
  cpuOvercommit: number;
  /** Memory the domains of a host may be promised, as a multiple of its memory (1: none). */
  memoryOvercommit: number;
}

export const PLACEMENT_SETTINGS_DEFAULT: PlacementSettings = {
  cpuOvercommit: 4,
  memoryOvercommit: 1,
};

export interface PlacementInput {
  domain: DomainRecord;
  hosts: readonly HostRecord[];
  /** Every domain in the cluster (for memory already promised, disks in use, groups). */
  domains: readonly DomainRecord[];
  networks: readonly NetworkRecord[];
  /** The domain's disks' volumes, by volume id. */
  volumes: ReadonlyMap<string, VolumeRecord>;
  nowMs: number;
  /** Default PLACEMENT_SETTINGS_DEFAULT. */
  settings?: PlacementSettings;
  /** Hosts not to consider, each with why (the host a domain moves away from). */
  exclude?: ReadonlyMap<string, string>;
  /** The controller's view of each host (failover.ts): only `up` hosts are offered domains. */
  hostState?: (hostId: string) => HostState;
}

/** One host as placement saw it: whether it fits, why (not), and its score when it fits. */
export interface HostAssessment {
  hostId: string;
  hostName: string;
  fits: boolean;
  /** Why it cannot run the domain; empty when it fits. */
  reasons: string[];
  /** Other domains of the domain's anti-affinity group that run (or will) there. */
  groupPeers: string[];
  /** MiB the host could still give after this domain, vCPUs likewise (null: not a compute host
   * with a hypervisor report). */
  memoryLeftMiB: number | null;
  vcpusLeft: number | null;
  /** 0..100, higher is better: half the share of memory left, half the share of vCPUs left. */
  score: number | null;
  /** One line: the facts behind the verdict. */
  summary: string;
}

export interface PlacementPlan {
  domain: string;
  /** Why the domain cannot start anywhere whatever the host (its disks), or null. */
  problem: string | null;
  hosts: HostAssessment[];
  /** The host it would go to, or null. */
  chosenHostId: string | null;
  /** Why that one, or why none. */
  reason: string;
}

/** A domain that runs, or should, or has a guest left on its host. */
function active(domain: DomainRecord): boolean {
  return (
    domain.desiredState !== "stopped" ||
    (domain.observed !== null && domain.observed.state !== "stopped")
  );
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

/** vCPUs the host's other domains have (running or on their way). */
function vcpusInUse(host: HostRecord, domains: readonly DomainRecord[], exceptId: string): number {
  let used = 0;
  for (const other of domains)
    if (other.id !== exceptId && other.hostId === host.id && active(other)) used += other.vcpus;
  return used;
}

function hostNames(ids: readonly string[], hosts: readonly HostRecord[]): string {
  return ids.map((id) => hosts.find((h) => h.id === id)?.name ?? id).join(", ");
}

/** Every host, assessed for the domain (pure). */
export function assessHost(host: HostRecord, input: PlacementInput): HostAssessment {
  const { domain } = input;
  const settings = input.settings ?? PLACEMENT_SETTINGS_DEFAULT;
  const reasons: string[] = [];
  const excluded = input.exclude?.get(host.id);
  if (excluded !== undefined) reasons.push(excluded);
  if (host.maintenance !== null)
    reasons.push(
      `host ${host.name} is in maintenance (etherplane host activate ${host.name} ends it)`,
    );
  if (domain.pinHosts.length > 0 && !domain.pinHosts.includes(host.id))
    reasons.push(
      `domain ${domain.name} is pinned to ${hostNames(domain.pinHosts, input.hosts)} (etherplane domain set ${domain.name} --pin HOST,... changes it)`,
    );
  const hv = host.inventory?.hypervisor;
  let memoryLeftMiB: number | null = null;
  let vcpusLeft: number | null = null;
  let memoryBudget = 0;
  let vcpuBudget = 0;
  if (!host.roles.includes("compute")) reasons.push(`host ${host.name} has no compute role`);
  else if (!hv)
    reasons.push(`host ${host.name} has not reported a hypervisor (is its agent running?)`);
  else {
    const state = input.hostState?.(host.id);
    if (state !== undefined && state !== "up") reasons.push(`host ${host.name} is ${state}`);
    // Without the lease's view (a caller that has none), the last report must be recent.
    const stale = host.lastSeenMs === null || input.nowMs - host.lastSeenMs > HOST_FRESH_MS;
    if (state === undefined && stale)
      reasons.push(`host ${host.name}'s agent has not reported for over ${HOST_FRESH_MS / 1000} s`);
    if (domain.vcpus > hv.cpus)
      reasons.push(
        `domain ${domain.name} wants ${domain.vcpus} vCPUs but host ${host.name} has ${hv.cpus} CPUs`,
      );
    vcpuBudget = Math.floor(hv.cpus * settings.cpuOvercommit);
    const vcpusFree = vcpuBudget - vcpusInUse(host, input.domains, domain.id);
    vcpusLeft = vcpusFree - domain.vcpus;
    if (vcpusLeft < 0 && domain.vcpus <= hv.cpus)
      reasons.push(
        `domain ${domain.name} wants ${domain.vcpus} vCPUs but host ${host.name} has ${Math.max(0, vcpusFree)} of ${vcpuBudget} left ` +
          `(${hv.cpus} CPUs x cpu_overcommit ${settings.cpuOvercommit})`,
      );
    // Overcommit lends (factor - 1) x the host's memory beyond what its hypervisor has free.
    memoryBudget = Math.floor(hv.totalMemoryMiB * settings.memoryOvercommit);
    const free =
      availableMemoryMiB(host, input.domains, domain.id) +
      Math.floor(hv.totalMemoryMiB * (settings.memoryOvercommit - 1));
    memoryLeftMiB = free - domain.memoryMiB;
    if (memoryLeftMiB < 0)
      reasons.push(
        `domain ${domain.name} wants ${domain.memoryMiB} MiB but host ${host.name} has ${Math.max(0, free)} MiB free` +
          (settings.memoryOvercommit === 1
            ? ""
            : ` (memory_overcommit ${settings.memoryOvercommit})`),
      );
  }
  const bridges = new Set(input.networks.filter((n) => n.hostId === host.id).map((n) => n.bridge));
  for (const bridge of new Set(domain.vifs.map((v) => v.bridge))) {
    if (!bridges.has(bridge))
      reasons.push(
        `host ${host.name} has no network with bridge ${bridge}; ` +
          `create one: etherplane network create ${bridge} --host ${host.name}`,
      );
  }
  // Volume access is not a reason to refuse: the start grants this host's SAN MACs on the
  // domain's volumes (volume-grants.ts). The host must have reported them, though.
  if (domain.disks.some((d) => d.volumeId !== null)) {
    try {
      hostSanMacs(host);
    } catch (error) {
      reasons.push(errorMessage(error));
    }
  }
  const groupPeers =
    domain.antiAffinity === null
      ? []
      : input.domains
          .filter(
            (other) =>
              other.id !== domain.id &&
              other.hostId === host.id &&
              other.antiAffinity === domain.antiAffinity &&
              active(other),
          )
          .map((other) => other.name);
  const fits = reasons.length === 0;
  let score: number | null = null;
  let summary: string;
  if (fits && memoryLeftMiB !== null && vcpusLeft !== null) {
    const memoryShare = memoryBudget > 0 ? memoryLeftMiB / memoryBudget : 0;
    const vcpuShare = vcpuBudget > 0 ? vcpusLeft / vcpuBudget : 0;
    score = Math.round(50 * Math.min(1, memoryShare) + 50 * Math.min(1, vcpuShare));
    summary =
      `fits: ${memoryLeftMiB} MiB of ${memoryBudget} left after, ${vcpusLeft} of ${vcpuBudget} vCPUs left after; score ${score}` +
      (groupPeers.length > 0
        ? `; shares the host with ${groupPeers.join(", ")} (anti-affinity group ${domain.antiAffinity})`
        : "");
  } else summary = reasons.join("; ");
  return {
    ...{ hostId: host.id, hostName: host.name, fits, reasons, groupPeers },
    ...{ memoryLeftMiB, vcpusLeft, score, summary },
  };
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

/**
 * Every host assessed, and the choice: among the hosts that fit, those without a domain of the
 * domain's anti-affinity group when there are any, then the highest score (ties: by name).
 */
export function planPlacement(input: PlacementInput): PlacementPlan {
  const problem = diskProblem(input) ?? null;
  const hosts = input.hosts.map((host) => assessHost(host, input));
  const base = { domain: input.domain.name, problem, hosts };
  if (problem !== null)
    return { ...base, chosenHostId: null, reason: `no host can run it: ${problem}` };
  const fitting = hosts.filter((h) => h.fits);
  if (fitting.length === 0)
    return {
      ...base,
      chosenHostId: null,
      reason:
        hosts.length === 0
          ? "no host can run it: there are no hosts"
          : `no host can run it: ${hosts.map((h) => h.summary).join("; ")}`,
    };
  const apart = fitting.filter((h) => h.groupPeers.length === 0);
  const candidates = apart.length > 0 ? apart : fitting;
  const [best] = [...candidates].sort(
    (a, b) => (b.score ?? 0) - (a.score ?? 0) || a.hostName.localeCompare(b.hostName),
  );
  if (!best) throw new Error("unreachable: candidates is not empty");
  const group = input.domain.antiAffinity;
  let reason =
    candidates.length === 1
      ? `${best.hostName}: the only host that fits`
      : `${best.hostName}: the highest score (${best.score ?? 0}) of ${candidates.length} hosts that fit`;
  if (group !== null && apart.length > 0 && apart.length < fitting.length)
    reason += `, leaving out hosts that run anti-affinity group ${group}`;
  if (group !== null && apart.length === 0)
    reason += `; every host that fits runs anti-affinity group ${group} already`;
  return { ...base, chosenHostId: best.hostId, reason };
}

/** The host to start on: the named one if it fits, else planPlacement's choice. */
export function placeDomain(input: PlacementInput, hostRef?: string): HostRecord {
  const problem = diskProblem(input);
  if (problem) throw new EtherplaneError("CONFLICT", problem, { params: { field: "disk" } });
  if (hostRef !== undefined) {
    const host = input.hosts.find((h) => h.id === hostRef || h.name === hostRef);
    if (!host)
      throw new EtherplaneError("NOT_FOUND", `no host "${hostRef}"; see etherplane host list`, {
        params: { field: "host" },
      });
    // A named host is the operator's choice: anti-affinity (a preference) does not refuse it.
    const { reasons } = assessHost(host, input);
    if (reasons.length > 0)
      throw new EtherplaneError("CONFLICT", reasons.join("; "), { params: { field: "host" } });
    return host;
  }
  const plan = planPlacement(input);
  const chosen = input.hosts.find((h) => h.id === plan.chosenHostId);
  if (!chosen)
    throw new EtherplaneError(
      "CONFLICT",
      `no host can run domain ${input.domain.name}: ${plan.hosts.length ? plan.hosts.map((h) => h.summary).join("; ") : "there are no hosts"} (etherplane place ${input.domain.name} shows each host)`,
    );
  return chosen;
}
