/** Tasks: newest first, by state, a page at a time; reloaded when the change feed says so. */
import { useEffect, useState } from "preact/hooks";
import { ago } from "../format";
import type { Task } from "../types";
import { message, type PageProps } from "./common";
import { ChoiceFilter, EmptyRow, ErrorLine, MoreButton, Toolbar } from "./list-controls";

const TASK_STATES = ["queued", "running", "succeeded", "failed"] as const;

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
      <ErrorLine error={error} />
      <Toolbar>
        <ChoiceFilter label="State" value={state} choices={TASK_STATES} onChange={setState} />
      </Toolbar>
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
              <EmptyRow columns={6}>No tasks{state ? ` ${state}` : ""}.</EmptyRow>
            )}
          </tbody>
        </table>
      </div>
      <MoreButton cursor={cursor} label="Older tasks" onMore={(after) => void load(after)} />
    </>
  );
}
