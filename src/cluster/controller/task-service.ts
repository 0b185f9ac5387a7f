/** Tasks: every long or multi-step operation has one, with state, progress, result and error. */
import { newId } from "../../foundation/ids.js";
import type { TaskRecord } from "../model.js";
import type { Store } from "../store/store.js";

export class TaskService {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async start(
    kind: string,
    subjectId: string | null,
    createdBy: string,
    message: string,
  ): Promise<TaskRecord> {
    const time = this.now();
    const task: TaskRecord = {
      id: newId("task"),
      kind,
      state: "running",
      progress: 0,
      message,
      subjectId,
      result: null,
      error: null,
      createdBy,
      createdMs: time,
      updatedMs: time,
    };
    await this.store.createTask(task);
    return task;
  }

  /** The running task of a subject (one at a time per volume), if any. */
  async runningFor(subjectId: string): Promise<TaskRecord | undefined> {
    const [task] = await this.store.listTasks({ subjectId, state: "running", limit: 1 });
    return task;
  }

  progress(id: string, progress: number, message: string): Promise<TaskRecord> {
    return this.store.updateTask(id, {
      progress: Math.max(0, Math.min(1, progress)),
      message,
      updatedMs: this.now(),
    });
  }

  succeed(id: string, message: string, result: unknown = null): Promise<TaskRecord> {
    return this.store.updateTask(id, {
      state: "succeeded",
      progress: 1,
      message,
      result,
      updatedMs: this.now(),
    });
  }

  fail(id: string, code: string, message: string): Promise<TaskRecord> {
    return this.store.updateTask(id, {
      state: "failed",
      message,
      error: { code, message },
      updatedMs: this.now(),
    });
  }
}
