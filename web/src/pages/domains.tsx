/** The domains in the spirit of `xl list`, sortable and filterable; import a domain file. */
import { useState } from "preact/hooks";
import { cpuTime } from "../format";
import type { Domain } from "../types";
import { message, type PageProps } from "./common";

type Column = "name" | "id" | "mem" | "vcpus" | "state" | "time" | "host";
const COLUMNS: Array<[Column, string]> = [
  ["name", "Name"],
  ["id", "ID"],
  ["mem", "Mem (MiB)"],
  ["vcpus", "VCPUs"],
  ["state", "State"],
  ["time", "Time (s)"],
  ["host", "Host"],
];

export function DomainsPage({ api, data, refresh, canWrite }: PageProps) {
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<{ by: Column; up: boolean }>({ by: "name", up: true });
  const hostName = (id: string | null) =>
    id === null ? "" : (data.hosts.find((h) => h.id === id)?.name ?? id);
  const cell = (d: Domain, c: Column): string | number => {
    switch (c) {
      case "name":
        return d.name;
      case "id":
        return d.observed?.domid ?? -1;
      case "mem":
        return d.observed?.memoryMiB ?? d.memoryMiB;
      case "vcpus":
        return d.observed?.vcpus ?? d.vcpus;
      case "state":
        return d.observed?.state ?? "stopped";
      case "time":
        return d.observed?.cpuTimeS ?? 0;
      case "host":
        return hostName(d.hostId);
    }
  };
  const needle = filter.trim().toLowerCase();
  const rows = data.domains
    .filter(
      (d) =>
        !needle ||
        [d.name, cell(d, "state"), cell(d, "host")].some((v) =>
          String(v).toLowerCase().includes(needle),
        ),
    )
    .sort((a, b) => {
      const x = cell(a, sort.by);
      const y = cell(b, sort.by);
      const order =
        typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return sort.up ? order : -order;
    });
  return (
    <>
      <h1>Domains</h1>
      <div class="toolbar">
        <label for="domain-filter">Filter</label>
        <input
          id="domain-filter"
          type="search"
          placeholder="name, state or host"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
      </div>
      <div class="scroll">
        <table class="xl-list" data-testid="domain-list">
          <thead>
            <tr>
              {COLUMNS.map(([c, label]) => (
                <th
                  scope="col"
                  key={c}
                  aria-sort={sort.by === c ? (sort.up ? "ascending" : "descending") : "none"}
                >
                  <button
                    type="button"
                    class="sort"
                    onClick={() => setSort({ by: c, up: sort.by === c ? !sort.up : true })}
                  >
                    {label}
                    {sort.by === c ? (sort.up ? " ▲" : " ▼") : ""}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id}>
                <td>
                  <a href={`#/domains/${encodeURIComponent(d.name)}`}>{d.name}</a>
                </td>
                <td class="num">{d.observed?.domid ?? "–"}</td>
                <td class="num">{cell(d, "mem")}</td>
                <td class="num">{cell(d, "vcpus")}</td>
                <td>
                  <span class={`state state-${cell(d, "state")}`}>{cell(d, "state")}</span>
                </td>
                <td class="num">{cpuTime(d.observed?.cpuTimeS)}</td>
                <td>{cell(d, "host")}</td>
              </tr>
            ))}
            {rows.length === 0 && (
              <tr>
                <td colSpan={COLUMNS.length} class="muted">
                  {data.domains.length === 0 ? "No domains yet." : "Nothing matches the filter."}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {canWrite && <ImportForm api={api} refresh={refresh} />}
    </>
  );
}

function ImportForm({ api, refresh }: Pick<PageProps, "api" | "refresh">) {
  const [text, setText] = useState("");
  const [source, setSource] = useState("pasted.cfg");
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  return (
    <section aria-labelledby="import-h" class="panel">
      <h2 id="import-h">Import a domain file</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setResult(null);
          api
            .importDomain(text, source)
            .then(async (r) => {
              setResult({
                ok: true,
                text: `imported ${r.domain.name}${r.warnings.length ? `; ${r.warnings.join("; ")}` : ""}`,
              });
              setText("");
              await refresh();
            })
            .catch((error: unknown) => setResult({ ok: false, text: message(error) }));
        }}
      >
        <label for="import-file">Upload an xl.cfg file</label>
        <input
          id="import-file"
          type="file"
          accept=".cfg,.conf,text/plain"
          onChange={(e) => {
            const file = e.currentTarget.files?.[0];
            if (!file) return;
            setSource(file.name);
            void file.text().then(setText);
          }}
        />
        <label for="import-text">or paste it (xl.cfg syntax)</label>
        <textarea
          id="import-text"
          rows={10}
          spellcheck={false}
          required
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit">Import</button>
        {result && (
          <p class={result.ok ? "ok" : "error"} role={result.ok ? "status" : "alert"}>
            {result.text}
          </p>
        )}
      </form>
    </section>
  );
}
