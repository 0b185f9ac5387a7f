/**
 * Volumes: the list, and create/snapshot/clone/resize/export/unexport/delete with their tasks'
 * progress (a copy's task moves as the storage host copies), and who may reach each one: allow
 * or deny MACs or hosts; opening a volume to everyone on the SAN is the admin's call, as the API
 * says.
 */
import { useState } from "preact/hooks";
import { aoeAddress, bytes, parseSize } from "../format";
import type { Task, Volume } from "../types";
import { message, TaskProgress, type PageProps } from "./common";

type RowAction = "snapshot" | "clone" | "resize" | "export" | "unexport" | "access" | "delete";

/** Who a volume is open to, in words: everyone, the MACs allowed, the running domains' hosts. */
export function accessText(v: Volume, hostName: (id: string) => string): string {
  if (!v.exported) return "not exported";
  if (v.allowEveryone) return "everyone";
  const parts = [...v.allow, ...v.grants.map((g) => `${hostName(g.hostId)} (running domain)`)];
  return parts.length > 0 ? parts.join(", ") : "nobody";
}

export function VolumesPage({ api, data, refresh, canWrite, isAdmin }: PageProps) {
  const [access, setAccess] = useState<string | null>(null);
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
  const rowAction = (v: Volume, action: RowAction) => {
    if (action === "access") return setAccess(access === v.id ? null : v.id);
    if (action === "export" || action === "unexport") {
      if (action === "unexport" && !confirm(`Unexport ${v.name}? Hosts using it lose their disk.`))
        return;
      return run(api.exportVolume(v.name, action === "export"));
    }
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

  const selected = data.volumes.find((v) => v.id === access);
  // The API takes one task per volume at a time: its buttons wait while one runs.
  const busy = (v: Volume) =>
    data.tasks.some((t) => t.subjectId === v.id && (t.state === "queued" || t.state === "running"));
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
                <td class="wrap">{accessText(v, hostName)}</td>
                {canWrite && (
                  <td class="row-actions">
                    {(
                      [
                        "snapshot",
                        "clone",
                        "resize",
                        v.exported ? "unexport" : "export",
                        "access",
                        "delete",
                      ] as const
                    ).map((a) => (
                      <button
                        type="button"
                        key={a}
                        class={a === "delete" ? "small danger" : "small"}
                        aria-label={`${a} ${v.name}`}
                        aria-expanded={a === "access" ? access === v.id : undefined}
                        disabled={a !== "access" && busy(v)}
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
      {canWrite && selected && (
        <AccessPanel
          volume={selected}
          isAdmin={isAdmin}
          busy={busy(selected)}
          hosts={data.hosts.map((h) => h.name)}
          onChange={(action, who) => run(api.volumeAccess(selected.name, action, who))}
          onClose={() => setAccess(null)}
        />
      )}
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

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

/** Allow or deny MACs and hosts on one volume; "everyone" for admins only (the API's rule). */
function AccessPanel(props: {
  volume: Volume;
  isAdmin: boolean;
  /** A task of this volume runs: the API would refuse another until it ends. */
  busy: boolean;
  hosts: string[];
  onChange: (
    action: "allow" | "deny",
    who: { macs?: string[]; hosts?: string[]; everyone?: boolean },
  ) => void;
  onClose: () => void;
}) {
  const { volume, isAdmin } = props;
  const [who, setWho] = useState("");
  const [everyone, setEveryone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = (action: "allow" | "deny") => {
    const words = who.split(/[\s,]+/).filter(Boolean);
    const macs = words.filter((w) => MAC.test(w));
    const hosts = words.filter((w) => !MAC.test(w));
    const unknown = hosts.filter((h) => !props.hosts.includes(h));
    if (unknown.length > 0)
      return setError(`${unknown.join(", ")}: not a MAC (00:16:3e:00:00:13) nor a host's name`);
    if (words.length === 0 && !everyone)
      return setError("name MACs or hosts" + (isAdmin ? ", or choose everyone" : ""));
    setError(null);
    props.onChange(action, {
      ...(macs.length ? { macs } : {}),
      ...(hosts.length ? { hosts } : {}),
      ...(everyone ? { everyone: true } : {}),
    });
    setWho("");
    setEveryone(false);
  };
  return (
    <section aria-labelledby="access-h" class="panel" data-testid="access-panel">
      <h2 id="access-h">Access to {volume.name}</h2>
      <p class="muted">
        Allowed now: {volume.allowEveryone ? "everyone" : volume.allow.join(", ") || "nobody"}
        {volume.grants.length > 0 ? ` · ${volume.grants.length} running domain grant(s)` : ""}
      </p>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <label>
          MACs or hosts
          <input
            value={who}
            placeholder="00:16:3e:00:00:13 or host1"
            onInput={(e) => setWho(e.currentTarget.value)}
          />
        </label>
        {isAdmin && (
          <label class="check">
            <input
              type="checkbox"
              checked={everyone}
              onChange={(e) => setEveryone(e.currentTarget.checked)}
            />
            everyone on the SAN
          </label>
        )}
        <button type="button" disabled={props.busy} onClick={() => submit("allow")}>
          Allow
        </button>
        <button type="button" disabled={props.busy} onClick={() => submit("deny")}>
          Deny
        </button>
        <button type="button" class="quiet" onClick={props.onClose}>
          Done
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
