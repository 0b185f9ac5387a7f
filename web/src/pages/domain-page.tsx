/**
 * One domain: its state, disks, vifs, policies, last exit; actions (destructive ones confirmed,
 * migrate to a chosen host or where placement chooses)
 * with their task's progress; its xl.cfg to view and edit, a refusal shown at its line.
 */
import { useEffect, useState } from "preact/hooks";
import type { DomainAction } from "../api";
import { cpuTime } from "../format";
import type { Task } from "../types";
import { message, TaskProgress, type PageProps } from "./common";

const CONFIRM: Partial<Record<DomainAction, string>> = {
  destroy: "Destroy pulls the plug at once: unsaved data in the guest is lost.",
  shutdown: "Ask the guest to power off?",
  reboot: "Reboot the guest?",
};

/** The line an xl.cfg refusal names ("web.cfg: line 3, column 9: ..."), if any. */
export function errorLine(text: string): number | null {
  const match = /\bline (\d+)\b/.exec(text);
  return match ? Number(match[1]) : null;
}

export function DomainPage({ api, data, refresh, canWrite, name }: PageProps & { name: string }) {
  const domain = data.domains.find((d) => d.name === name || d.id === name);
  const [task, setTask] = useState<Task | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [migrateTo, setMigrateTo] = useState("");
  if (!domain)
    return data.loaded ? (
      <p role="alert">
        No domain {name}. <a href="#/domains">Back to the list</a>
      </p>
    ) : (
      <p>Loading…</p>
    );
  const state = domain.observed?.state ?? "stopped";
  const host = data.hosts.find((h) => h.id === domain.hostId)?.name ?? "";
  const act = (action: DomainAction) => {
    const warning = CONFIRM[action];
    if (warning && !confirm(`${domain.name}: ${warning}`)) return;
    setActionError(null);
    api
      .domainAction(domain.name, action)
      .then(async (r) => {
        setTask(r.task);
        await refresh();
      })
      .catch((error: unknown) => setActionError(message(error)));
  };
  const running = state === "running" || state === "paused";
  const migrate = (live: boolean) => {
    const to = migrateTo === "" ? "the host placement chooses" : migrateTo;
    const how = live ? "live (it keeps running)" : "offline (shut down, then started there)";
    if (!confirm(`${domain.name}: move it to ${to}, ${how}?`)) return;
    setActionError(null);
    api
      .migrateDomain(domain.name, migrateTo === "" ? null : migrateTo, live)
      .then(async (r) => {
        setTask(r.task);
        await refresh();
      })
      .catch((error: unknown) => setActionError(message(error)));
  };
  const otherHosts = data.hosts.filter(
    (h) => h.id !== domain.hostId && h.roles.includes("compute"),
  );
  return (
    <>
      <p class="crumbs">
        <a href="#/domains">Domains</a> /
      </p>
      <h1>
        {domain.name} <span class={`state state-${state}`}>{state}</span>
      </h1>
      {canWrite && (
        <div class="actions" role="group" aria-label="domain actions">
          <button type="button" disabled={running} onClick={() => act("start")}>
            Start
          </button>
          <button type="button" disabled={state !== "running"} onClick={() => act("shutdown")}>
            Shut down
          </button>
          <button type="button" disabled={state !== "running"} onClick={() => act("reboot")}>
            Reboot
          </button>
          <button type="button" disabled={state !== "running"} onClick={() => act("pause")}>
            Pause
          </button>
          <button type="button" disabled={state !== "paused"} onClick={() => act("unpause")}>
            Unpause
          </button>
          <button type="button" class="danger" disabled={!running} onClick={() => act("destroy")}>
            Destroy
          </button>
          <a
            class={running ? "button" : "button disabled"}
            aria-disabled={!running}
            href={running ? `#/domains/${encodeURIComponent(domain.name)}/console` : undefined}
          >
            Console
          </a>
          <label>
            to host{" "}
            <select
              value={migrateTo}
              onChange={(e) => setMigrateTo((e.target as HTMLSelectElement).value)}
            >
              <option value="">(placement chooses)</option>
              {otherHosts.map((h) => (
                <option key={h.id} value={h.name}>
                  {h.name}
                </option>
              ))}
            </select>
          </label>
          <button type="button" disabled={state !== "running"} onClick={() => migrate(true)}>
            Migrate
          </button>
        </div>
      )}
      {task && <TaskProgress task={task} tasks={data.tasks} />}
      {actionError && (
        <p class="error" role="alert">
          {actionError}
        </p>
      )}
      <dl class="facts">
        <dt>ID</dt>
        <dd>{domain.observed?.domid ?? "–"}</dd>
        <dt>Host</dt>
        <dd>{host || "–"}</dd>
        <dt>Memory</dt>
        <dd>{domain.observed?.memoryMiB ?? domain.memoryMiB} MiB</dd>
        <dt>VCPUs</dt>
        <dd>{domain.observed?.vcpus ?? domain.vcpus}</dd>
        <dt>CPU time</dt>
        <dd>{cpuTime(domain.observed?.cpuTimeS)} s</dd>
        <dt>On poweroff / reboot / crash</dt>
        <dd>
          {domain.onPoweroff} / {domain.onReboot} / {domain.onCrash}
        </dd>
        <dt>Last exit</dt>
        <dd>
          {domain.observed?.lastExit
            ? `${domain.observed.lastExit.reason} (${domain.observed.lastExit.action}) at ${new Date(domain.observed.lastExit.atMs).toLocaleString()}`
            : "–"}
        </dd>
        {domain.observed?.error && (
          <>
            <dt>Error</dt>
            <dd class="error">{domain.observed.error}</dd>
          </>
        )}
      </dl>
      <h2>Disks</h2>
      <ul>
        {domain.disks.map((d) => (
          <li key={d.vdev}>
            {d.vdev}: {d.target}
            {d.readOnly ? " (read-only)" : ""}
            {d.volumeId
              ? ` — volume ${data.volumes.find((v) => v.id === d.volumeId)?.name ?? d.volumeId}`
              : ""}
          </li>
        ))}
      </ul>
      <h2>Network interfaces</h2>
      <ul>
        {domain.vifs.map((v) => (
          <li key={v.mac}>
            {v.mac} on {v.bridge}
          </li>
        ))}
        {domain.vifs.length === 0 && <li class="muted">none</li>}
      </ul>
      <ConfigEditor
        key={`${domain.id}:${domain.generation}`}
        {...{ api, refresh, canWrite }}
        name={domain.name}
        config={domain.config}
        generation={domain.generation}
      />
    </>
  );
}

function ConfigEditor(props: {
  api: PageProps["api"];
  refresh: PageProps["refresh"];
  canWrite: boolean;
  name: string;
  config: string;
  generation: number;
}) {
  const [text, setText] = useState(props.config);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => setText(props.config), [props.config]);
  const bad = error ? errorLine(error) : null;
  const lines = text.split("\n").length;
  return (
    <section aria-labelledby="cfg-h" class="panel">
      <h2 id="cfg-h">Domain file (xl.cfg)</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          setSaved(null);
          props.api
            .updateDomain(props.name, text, props.generation)
            .then(async (r) => {
              setSaved(r.changes.length ? `saved: ${r.changes.join("; ")}` : "saved, no change");
              await props.refresh();
            })
            .catch((err: unknown) => setError(message(err)));
        }}
      >
        <div class="editor">
          <pre class="gutter" aria-hidden="true">
            {Array.from({ length: lines }, (_, i) => (
              <span key={i} class={bad === i + 1 ? "bad" : undefined}>
                {i + 1}
                {"\n"}
              </span>
            ))}
          </pre>
          <textarea
            aria-label="xl.cfg"
            rows={Math.min(30, Math.max(8, lines + 1))}
            spellcheck={false}
            readOnly={!props.canWrite}
            value={text}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "cfg-error" : undefined}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </div>
        {error && (
          <p id="cfg-error" class="error" role="alert" data-testid="cfg-error">
            {bad !== null ? `Line ${bad}: ` : ""}
            {error}
          </p>
        )}
        {saved && (
          <p class="ok" role="status">
            {saved}
          </p>
        )}
        {props.canWrite && <button type="submit">Save</button>}
      </form>
    </section>
  );
}
