/**
 * When an agent sends its status: at once when something the controller acts on changed, every
 * STATUS_REFRESH_MS anyway (the observations' freshness), and every CPU_REPORT_MS when only its
 * guests' CPU time moved.
 *
 * Why the CPU rule: a guest's CPU time moves on every pass, so it is left out of the digest (a
 * report per pass would be a store read per pass at the controller, and a write wherever
 * anything else differs); but then a host whose guests only compute reported every 30 s and the
 * web UI's CPU chart (host-metrics.ts, one sample per 5 s at most) had a point every 30 s. One
 * report per 5 s at most, whatever the guests' load, is what the chart can use; rounding the
 * CPU time into the digest instead would report every pass for a busy guest (a second of CPU
 * a second) and never for an idle one. At the controller such a report costs reads and the
 * in-memory sample: the domains' observed rows are rewritten for CPU time alone only every
 * OBSERVED_REFRESH_MS (domain-observer.ts).
 */
import type { AgentStatus } from "../agent-protocol.js";

/** A status that did not change is sent again this often anyway (observations' freshness). */
export const STATUS_REFRESH_MS = 30_000;
/** A status whose only change is its guests' CPU time is sent this often (the charts' step). */
export const CPU_REPORT_MS = 5_000;

/**
 * What decides whether a status is worth sending: everything but the clock fields that move on
 * every pass (a guest's CPU time, the time of the observation) and free memory to the nearest
 * 64 MiB.
 */
export function statusDigest(status: AgentStatus): string {
  const hv = status.inventory.hypervisor;
  return JSON.stringify({
    ...status,
    inventory: hv
      ? {
          ...status.inventory,
          hypervisor: { ...hv, freeMemoryMiB: Math.round(hv.freeMemoryMiB / 64) },
        }
      : status.inventory,
    domains: status.domains?.map(({ atMs: _a, cpuTimeS: _c, ...rest }) => rest),
  });
}

/** The guests' CPU times, each with its guest (a restarted guest has a new domid). */
export function cpuDigest(status: AgentStatus): string {
  return JSON.stringify(status.domains?.map((d) => [d.id, d.domid, d.cpuTimeS]) ?? []);
}

export interface SentStatus {
  digest: string;
  cpu: string;
  sentMs: number;
}

/** The fingerprints of `status`, to compare with the last one sent. */
export function fingerprint(status: AgentStatus, nowMs: number): SentStatus {
  return { digest: statusDigest(status), cpu: cpuDigest(status), sentMs: nowMs };
}

/** Whether `next` should be sent, the last sent being `last` (none yet: undefined). */
export function statusDue(last: SentStatus | undefined, next: SentStatus): boolean {
  if (!last || last.digest !== next.digest) return true;
  const ageMs = next.sentMs - last.sentMs;
  if (ageMs >= STATUS_REFRESH_MS) return true;
  return last.cpu !== next.cpu && ageMs >= CPU_REPORT_MS;
}
