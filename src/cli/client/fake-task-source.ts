/** An in-memory TaskSource for tests: it plays a script of task snapshots and failures. */
import type { TaskRecord } from "../../cluster/model.js";
import type { TaskSource } from "./task-source.js";

/** A task with every field filled in; tests override what they look at. */
export function fakeTask(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: "task-000000000001",
    kind: "volume.create",
    state: "queued",
    progress: 0,
    message: "",
    subjectId: null,
    result: null,
    error: null,
    createdBy: "admin",
    createdMs: 0,
    updatedMs: 0,
    ...overrides,
  };
}

export type FakeTaskStep = Partial<TaskRecord> | Error;

export class FakeTaskSource implements TaskSource {
  /** How many times getTask was called. */
  reads = 0;

  /** Each read plays the next step; the last one repeats. An Error step is thrown. */
  constructor(private readonly steps: readonly FakeTaskStep[]) {}

  getTask(taskId: string): Promise<TaskRecord> {
    const step = this.steps[Math.min(this.reads, this.steps.length - 1)];
    this.reads++;
    if (step instanceof Error) return Promise.reject(step);
    return Promise.resolve(fakeTask({ ...step, id: taskId }));
  }
}
