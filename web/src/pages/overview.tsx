/** Hosts, pools, domains by state and recent failed tasks, refreshed by the change feed. */
import { ago, bytes } from "../format";
import { Bar, type PageProps } from "./common";
import { HostStateBadge, MemoryBar } from "./host-state";

const STATES = ["running", "paused", "stopped", "crashed"] as const;

export function OverviewPage({ data }: PageProps) {
  const hostName = (id: string) => data.hosts.find((h) => h.id === id)?.name ?? id;
  const counts = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<string, number>;
  for (const d of data.domains) {
    const state = d.observed?.state === "shutdown" ? "stopped" : (d.observed?.state ?? "stopped");
    counts[state] = (counts[state] ?? 0) + 1;
  }
  const failed = data.tasks.filter((t) => t.state === "failed").slice(0, 10);
  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="hosts-h">
        <h2 id="hosts-h">Hosts</h2>
        {data.loaded && data.hosts.length === 0 && <p>No hosts have joined yet.</p>}
        <div class="cards">
          {data.hosts.map((host) => {
            const hv = host.inventory?.hypervisor;
            return (
              <article class="card" key={host.id} data-testid="host">
                <h3>{host.name}</h3>
                <p>
                  <HostStateBadge host={host} /> {host.roles.join(", ")} · seen{" "}
                  {ago(host.lastSeenMs)}
                </p>
                {hv && (
                  <>
                    <p>
                      {hv.kind} {hv.version} · {hv.cpus} CPUs
                    </p>
                    <p>
                      memory {bytes((hv.totalMemoryMiB - hv.freeMemoryMiB) * 1048576)} used of{" "}
                      {bytes(hv.totalMemoryMiB * 1048576)}
                    </p>
                    <MemoryBar host={host} hv={hv} />
                  </>
                )}
                <p class="muted">
                  SAN: {host.exportInterfaces.length > 0 ? host.exportInterfaces.join(", ") : "–"}
                </p>
              </article>
            );
          })}
        </div>
      </section>
      <section aria-labelledby="pools-h">
        <h2 id="pools-h">Storage pools</h2>
        <div class="cards">
          {data.pools.map((pool) => {
            const provisioned = data.volumes
              .filter((v) => v.poolId === pool.id)
              .reduce((sum, v) => sum + v.sizeBytes, 0);
            const used =
              pool.capacityBytes !== null && pool.freeBytes !== null
                ? pool.capacityBytes - pool.freeBytes
                : null;
            return (
              <article class="card" key={pool.id} data-testid="pool">
                <h3>{pool.name}</h3>
                <p>
                  {pool.kind} on {hostName(pool.hostId)}
                </p>
                <p>
                  {bytes(used)} used of {bytes(pool.capacityBytes)} · {bytes(provisioned)}{" "}
                  provisioned
                  {pool.capacityBytes && provisioned > pool.capacityBytes
                    ? ` (overcommit ${(provisioned / pool.capacityBytes).toFixed(1)}×)`
                    : ""}
                </p>
                {used !== null && pool.capacityBytes !== null && (
                  <Bar used={used} total={pool.capacityBytes} label={`pool ${pool.name} used`} />
                )}
              </article>
            );
          })}
        </div>
      </section>
      <section aria-labelledby="domains-h">
        <h2 id="domains-h">Domains</h2>
        <ul class="counts">
          {STATES.map((s) => (
            <li key={s}>
              <a href="#/domains" class={`state state-${s}`}>
                {counts[s]} {s}
              </a>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="failed-h">
        <h2 id="failed-h">Recent failed tasks</h2>
        {failed.length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Task</th>
                  <th scope="col">By</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {failed.map((t) => (
                  <tr key={t.id}>
                    <td>{ago(t.updatedMs)}</td>
                    <td>{t.kind}</td>
                    <td>{t.createdBy}</td>
                    <td class="wrap">{t.error?.message ?? t.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
