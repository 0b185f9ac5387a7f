/**
 * Hosts: each one's state, roles, hypervisor, SAN interfaces, memory and pool capacity bars, and
 * small time series of its guests' CPU load, its memory and its AoE exports' throughput from the
 * controller's recent agent
 * reports (GET /api/v1/metrics/hosts, bounded there), refetched when the host list changes.
 */
import { useEffect, useState } from "preact/hooks";
import { ago, bytes } from "../format";
import type { HostSeries } from "../types";
import { Bar, message, type PageProps } from "./common";
import { HostStateBadge, MemoryBar } from "./host-state";
import { Sparkline } from "./sparkline";

/** The exports seen in the samples, busiest (latest) first, at most a handful per card. */
function exportIds(samples: HostSeries["samples"]): string[] {
  const ids: string[] = [];
  for (const s of [...samples].reverse())
    for (const e of s.exports) if (!ids.includes(e.volumeId)) ids.push(e.volumeId);
  return ids.slice(0, 6);
}

export function HostsPage({ api, data }: PageProps) {
  const [series, setSeries] = useState<HostSeries[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .hostSeries()
      .then(setSeries)
      .catch((e: unknown) => setError(message(e)));
  }, [api, data.hosts]);
  return (
    <>
      <h1>Hosts</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {data.loaded && data.hosts.length === 0 && <p>No hosts have joined yet.</p>}
      <div class="cards">
        {data.hosts.map((host) => {
          const hv = host.inventory?.hypervisor;
          const samples = series.find((s) => s.hostId === host.id)?.samples ?? [];
          const pools = data.pools.filter((p) => p.hostId === host.id);
          const last = samples.at(-1);
          return (
            <article class="card" key={host.id} data-testid="host-card">
              <h2>{host.name}</h2>
              <p>
                <HostStateBadge host={host} /> {host.roles.join(", ")} · seen {ago(host.lastSeenMs)}
              </p>
              <p class="muted">
                agent {host.inventory?.agentVersion ?? "–"} on {host.inventory?.hostname ?? "–"}
              </p>
              {hv && (
                <>
                  <p>
                    {hv.kind} {hv.version} · {hv.cpus} CPUs ·{" "}
                    {bytes((hv.totalMemoryMiB - hv.freeMemoryMiB) * 1048576)} of{" "}
                    {bytes(hv.totalMemoryMiB * 1048576)} memory used
                  </p>
                  <MemoryBar host={host} hv={hv} />
                </>
              )}
              {pools.map((p) =>
                p.capacityBytes !== null && p.freeBytes !== null ? (
                  <div key={p.id}>
                    <p>
                      pool {p.name}: {bytes(p.capacityBytes - p.freeBytes)} of{" "}
                      {bytes(p.capacityBytes)} used
                    </p>
                    <Bar
                      used={p.capacityBytes - p.freeBytes}
                      total={p.capacityBytes}
                      label={`pool ${p.name} used on ${host.name}`}
                    />
                  </div>
                ) : null,
              )}
              {samples.length > 1 && (
                <div class="sparks">
                  {samples.some((s) => s.cpuLoad !== null) && (
                    <Sparkline
                      label="guests' CPU"
                      values={samples.map((s) => s.cpuLoad)}
                      {...(hv ? { max: hv.cpus } : {})}
                      latest={last?.cpuLoad != null ? `${last.cpuLoad.toFixed(2)} vCPU` : "–"}
                    />
                  )}
                  {samples.some((s) => s.memoryUsedMiB !== null) && (
                    <Sparkline
                      label="memory used"
                      values={samples.map((s) => s.memoryUsedMiB)}
                      {...(last?.memoryTotalMiB ? { max: last.memoryTotalMiB } : {})}
                      latest={bytes((last?.memoryUsedMiB ?? 0) * 1048576)}
                    />
                  )}
                  {samples.some((s) => s.poolUsedBytes !== null) && (
                    <Sparkline
                      label="pool space used"
                      values={samples.map((s) => s.poolUsedBytes)}
                      {...(last?.poolCapacityBytes ? { max: last.poolCapacityBytes } : {})}
                      latest={bytes(last?.poolUsedBytes ?? null)}
                    />
                  )}
                  {exportIds(samples).map((volumeId) => {
                    const rate = (s: (typeof samples)[number]) => {
                      const e = s.exports.find((x) => x.volumeId === volumeId);
                      return e ? e.readBps + e.writeBps : null;
                    };
                    const name = data.volumes.find((v) => v.id === volumeId)?.name ?? volumeId;
                    const now = last ? rate(last) : null;
                    return (
                      <Sparkline
                        key={volumeId}
                        label={`AoE ${name} read+write`}
                        values={samples.map(rate)}
                        latest={now === null ? "–" : `${bytes(Math.round(now))}/s`}
                      />
                    );
                  })}
                </div>
              )}
              <h3>Interfaces</h3>
              <ul class="plain">
                {(host.inventory?.interfaces ?? []).map((i) => (
                  <li key={i.ifname}>
                    {i.ifname} {i.up ? "up" : "down"}
                    {host.exportInterfaces.includes(i.ifname) ? " · AoE exports" : ""}
                    {host.inventory?.sanInterfaces?.includes(i.ifname) ? " · SAN" : ""}
                  </li>
                ))}
              </ul>
            </article>
          );
        })}
      </div>
    </>
  );
}
