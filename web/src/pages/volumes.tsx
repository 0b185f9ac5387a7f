/** Volumes: the list, and create/snapshot/clone/resize/delete with their tasks' progress. */
import { useState } from "preact/hooks";
import { aoeAddress, bytes, parseSize } from "../format";
import type { Task, Volume } from "../types";
import { message, TaskProgress, type PageProps } from "./common";

export function VolumesPage({ api, data, refresh, canWrite }: PageProps) {
  const [tasks, setTasks] = useState<Task[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [size, setSize] = useState("1G");
  const [pool, setPool] = useState("");
  const hostName = (id: string) => data.hosts.find((h) => h.id === id)?.name ?? id;
  const poolName = (id: string) => data.pools.find((p) => p.id === id)?.name ?? id;

  const run = (call: Promise<{ task: Task }>) => {
    setError(null);
    call
      .then(async (r) => {
        setTasks((old) => [r.task, ...old].slice(0, 5));
        await refresh();
      })
      .catch((err: unknown) => setError(message(err)));
  };
  const rowAction = (v: Volume, action: "snapshot" | "clone" | "resize" | "delete") => {
    if (action === "delete") {
      if (confirm(`Delete volume ${v.name}? Its data is lost.`)) run(api.deleteVolume(v.name));
      return;
    }
    if (action === "resize") {
      const answer = prompt(`New size of ${v.name} (now ${bytes(v.sizeBytes)}), e.g. 2G:`);
      if (answer === null) return;
      const sizeBytes = parseSize(answer);
      if (sizeBytes === null) return setError(`size "${answer}": write a size like 512M or 2G`);
      return run(api.resizeVolume(v.name, sizeBytes));
    }
    const answer = prompt(
      `Name of the ${action} of ${v.name}:`,
      `${v.name}-${action === "snapshot" ? "snap" : "copy"}`,
    );
    if (answer) run(api.copyVolume(v.name, action, answer.trim()));
  };

  return (
    <>
      <h1>Volumes</h1>
      {tasks.map((t) => (
        <TaskProgress key={t.id} task={t} tasks={data.tasks} />
      ))}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="scroll">
        <table data-testid="volume-list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Allocated</th>
              <th scope="col">Pool</th>
              <th scope="col">Host</th>
              <th scope="col">AoE</th>
              <th scope="col">State</th>
              <th scope="col">Access</th>
              {canWrite && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {data.volumes.map((v) => (
              <tr key={v.id}>
                <td>
                  {v.name}
                  {v.kind === "snapshot" ? " (snapshot)" : ""}
                </td>
                <td class="num">{bytes(v.sizeBytes)}</td>
                <td class="num">{bytes(v.allocatedBytes)}</td>
                <td>{poolName(v.poolId)}</td>
                <td>{hostName(v.hostId)}</td>
                <td>{aoeAddress(v.shelf, v.slot)}</td>
                <td>
                  <span class={`state state-${v.state}`} title={v.error ?? undefined}>
                    {v.state}
                  </span>
                </td>
                <td>
                  {!v.exported ? "not exported" : v.allow.length ? v.allow.join(", ") : "everyone"}
                </td>
                {canWrite && (
                  <td class="row-actions">
                    {(["snapshot", "clone", "resize", "delete"] as const).map((a) => (
                      <button
                        type="button"
                        key={a}
                        class={a === "delete" ? "small danger" : "small"}
                        aria-label={`${a} ${v.name}`}
                        onClick={() => rowAction(v, a)}
                      >
                        {a}
                      </button>
                    ))}
                  </td>
                )}
              </tr>
            ))}
            {data.volumes.length === 0 && (
              <tr>
                <td colSpan={9} class="muted">
                  No volumes yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {canWrite && (
        <section aria-labelledby="create-h" class="panel">
          <h2 id="create-h">Create a volume</h2>
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              const sizeBytes = parseSize(size);
              if (sizeBytes === null)
                return setError(`size "${size}": write a size like 512M or 2G`);
              run(api.createVolume({ name: name.trim(), sizeBytes, ...(pool ? { pool } : {}) }));
              setName("");
            }}
          >
            <label>
              Name
              <input
                required
                maxLength={63}
                value={name}
                onInput={(e) => setName(e.currentTarget.value)}
              />
            </label>
            <label>
              Size
              <input required value={size} onInput={(e) => setSize(e.currentTarget.value)} />
            </label>
            <label>
              Pool
              <select value={pool} onChange={(e) => setPool(e.currentTarget.value)}>
                <option value="">(choose for me)</option>
                {data.pools.map((p) => (
                  <option key={p.id} value={p.name}>
                    {p.name} on {hostName(p.hostId)}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit">Create</button>
          </form>
        </section>
      )}
    </>
  );
}
