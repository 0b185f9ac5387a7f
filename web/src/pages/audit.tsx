/**
 * The audit log (admin): the newest entries, filtered in the page by words (actor, path,
 * subject, detail) and by result. The API keeps the log bounded; this page reads at most
 * AUDIT_SHOWN_MAX of its newest entries.
 */
import { useEffect, useState } from "preact/hooks";
import type { AuditEntry } from "../types";
import { message, type PageProps } from "./common";
import { ChoiceFilter, EmptyRow, ErrorLine, Toolbar, WordsFilter } from "./list-controls";

const AUDIT_SHOWN_MAX = 1000;

/** The entries that match every word of `words` (case-insensitive) and the result. Pure. */
export function filterAudit(entries: AuditEntry[], words: string, result: string): AuditEntry[] {
  const needles = words.toLowerCase().split(/\s+/).filter(Boolean);
  return entries.filter((e) => {
    if (result && e.result !== result) return false;
    const text =
      `${e.actor} ${e.role} ${e.method} ${e.path} ${e.status} ${e.subject ?? ""} ${e.detail ?? ""}`.toLowerCase();
    return needles.every((n) => text.includes(n));
  });
}

export function AuditPage({ api, isAdmin }: PageProps) {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [words, setWords] = useState("");
  const [result, setResult] = useState("");
  const load = () =>
    api
      .audit(AUDIT_SHOWN_MAX)
      .then((list) => setEntries(list.reverse()))
      .catch((e: unknown) => setError(message(e)));
  useEffect(() => {
    if (isAdmin) void load();
  }, [api, isAdmin]);
  if (!isAdmin) return <p>Only an admin token reads the audit log.</p>;
  const shown = filterAudit(entries ?? [], words, result);
  return (
    <>
      <h1>Audit log</h1>
      <ErrorLine error={error} />
      <Toolbar>
        <WordsFilter
          label="Filter"
          value={words}
          placeholder="actor, path, subject…"
          onChange={setWords}
        />
        <ChoiceFilter
          label="Result"
          value={result}
          choices={["ok", "error"]}
          onChange={setResult}
        />
        <button type="button" class="quiet" onClick={() => void load()}>
          Reload
        </button>
        <span class="muted" role="status">
          {shown.length} of {entries?.length ?? 0} newest entries
        </span>
      </Toolbar>
      <div class="scroll">
        <table data-testid="audit-list">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Call</th>
              <th scope="col">Status</th>
              <th scope="col">Subject</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.timeMs).toLocaleString()}</td>
                <td>
                  {e.actor} <span class={`role role-${e.role}`}>{e.role}</span>
                </td>
                <td class="wrap">
                  {e.method} {e.path}
                </td>
                <td class={e.result === "ok" ? "num" : "num bad"}>{e.status}</td>
                <td class="wrap">
                  {e.subject ?? ""}
                  {e.detail ? ` (${e.detail})` : ""}
                </td>
              </tr>
            ))}
            {entries && shown.length === 0 && (
              <EmptyRow columns={5}>Nothing matches the filter.</EmptyRow>
            )}
          </tbody>
        </table>
      </div>
    </>
  );
}
