/** Tasks: newest first, by state, a page at a time; reloaded when the change feed says so. */
import { useEffect, useState } from "preact/hooks";
import { ago } from "../format";
import type { Task } from "../types";
import { message, type PageProps } from "./common";

export function TasksPage({ api, data }: PageProps) {
  const [state, setState] = useState("");
  const [tasks, setTasks] = useState<Task[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = (after: string | null) =>
    api
      .tasksPage(state, after)
      .then((page) => {
        setTasks((old) => (after ? [...old, ...page.tasks] : page.tasks));
        setCursor(page.nextCursor);
      })
      .catch((e: unknown) => setError(message(e)));
  // The first page again when the state filter or the newest tasks change.
  useEffect(() => void load(null), [api, state, data.tasks]);
  return (
    <>
      <h1>Tasks</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="toolbar">
        <label>
          State{" "}
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">any</option>
            <option value="queued">queued</option>
            <option value="running">running</option>
            <option value="succeeded">succeeded</option>
            <option value="failed">failed</option>
          </select>
        </label>
      </div>
      <div class="scroll">
        <table data-testid="task-list">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Task</th>
              <th scope="col">By</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t.id}>
                <td>{ago(t.createdMs)}</td>
                <td>{t.kind}</td>
                <td>{t.createdBy}</td>
                <td>
                  <span class={`task-state task-${t.state}`}>{t.state}</span>
                </td>
                <td>
                  <progress
                    max={100}
                    value={Math.round(t.progress * 100)}
                    aria-label={`${t.kind} progress`}
                  />
                </td>
                <td class="wrap">{t.error ? `${t.error.code}: ${t.error.message}` : t.message}</td>
              </tr>
            ))}
            {tasks.length === 0 && (
              <tr>
                <td colSpan={6} class="muted">
                  No tasks{state ? ` ${state}` : ""}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {cursor && (
        <button type="button" class="quiet" onClick={() => void load(cursor)}>
          Older tasks
        </button>
      )}
    </>
  );
}
