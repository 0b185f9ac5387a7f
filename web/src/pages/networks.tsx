/** Networks: bridges per host (with uplink and VLAN); an admin creates and deletes them. */
import { useEffect, useState } from "preact/hooks";
import type { Network } from "../types";
import { message, type PageProps } from "./common";

export function NetworksPage({ api, data, isAdmin }: PageProps) {
  const [networks, setNetworks] = useState<Network[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [host, setHost] = useState("");
  const [uplink, setUplink] = useState("");
  const [vlan, setVlan] = useState("");
  const load = () =>
    api
      .networks()
      .then(setNetworks)
      .catch((e: unknown) => setError(message(e)));
  useEffect(() => void load(), [api, data.hosts]);
  const hostName = (id: string) => data.hosts.find((h) => h.id === id)?.name ?? id;
  const act = (call: Promise<unknown>) => {
    setError(null);
    call.then(load).catch((e: unknown) => setError(message(e)));
  };
  // Compute hosts first: their agents make the bridges guests plug into.
  const compute = [...data.hosts].sort(
    (a, b) => Number(b.roles.includes("compute")) - Number(a.roles.includes("compute")),
  );
  return (
    <>
      <h1>Networks</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="scroll">
        <table data-testid="network-list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Host</th>
              <th scope="col">Bridge</th>
              <th scope="col">Uplink</th>
              <th scope="col">VLAN</th>
              <th scope="col">State</th>
              {isAdmin && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {(networks ?? []).map((n) => (
              <tr key={n.id}>
                <td>{n.name}</td>
                <td>{hostName(n.hostId)}</td>
                <td>{n.bridge}</td>
                <td>{n.uplink ?? "–"}</td>
                <td class="num">{n.vlanId ?? "–"}</td>
                <td class="wrap">
                  <span class={n.error ? "state state-crashed" : "state state-running"}>
                    {n.error ? `error: ${n.error}` : "ok"}
                  </span>
                </td>
                {isAdmin && (
                  <td class="row-actions">
                    <button
                      type="button"
                      class="small danger"
                      aria-label={`delete network ${n.name} on ${hostName(n.hostId)}`}
                      onClick={() => {
                        if (confirm(`Delete network ${n.name}? Guests on it lose their link.`))
                          act(api.deleteNetwork(n.id));
                      }}
                    >
                      delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
            {networks?.length === 0 && (
              <tr>
                <td colSpan={7} class="muted">
                  No networks yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {isAdmin && (
        <section aria-labelledby="net-create-h" class="panel">
          <h2 id="net-create-h">Create a network</h2>
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              const vlanId = vlan.trim() ? Number(vlan) : undefined;
              if (
                vlanId !== undefined &&
                !(Number.isInteger(vlanId) && vlanId >= 1 && vlanId <= 4094)
              )
                return setError(`VLAN "${vlan}": a number from 1 to 4094, or empty`);
              act(
                api.createNetwork({
                  host: host || (compute[0]?.name ?? ""),
                  name: name.trim(),
                  ...(uplink.trim() ? { uplink: uplink.trim() } : {}),
                  ...(vlanId !== undefined ? { vlanId } : {}),
                }),
              );
              setName("");
            }}
          >
            <label>
              Network name
              <input
                required
                maxLength={15}
                value={name}
                onInput={(e) => setName(e.currentTarget.value)}
              />
            </label>
            <label>
              On host
              <select value={host} onChange={(e) => setHost(e.currentTarget.value)}>
                {compute.map((h) => (
                  <option key={h.id} value={h.name}>
                    {h.name}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Uplink (optional)
              <input
                maxLength={15}
                value={uplink}
                onInput={(e) => setUplink(e.currentTarget.value)}
              />
            </label>
            <label>
              VLAN (optional)
              <input
                inputMode="numeric"
                value={vlan}
                onInput={(e) => setVlan(e.currentTarget.value)}
              />
            </label>
            <button type="submit">Create network</button>
          </form>
        </section>
      )}
    </>
  );
}
