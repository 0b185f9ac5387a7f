/**
 * Where the task follower reads tasks from: the controller (`GET /api/v1/tasks/{id}`) or, in
 * tests, an in-memory fake (output/fake-task-source.ts).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { TaskRecord, TaskState } from "../../cluster/model.js";
import type { ApiClient } from "./api-client.js";
import { isObject } from "./api-errors.js";
import { TaskReply } from "../../api/replies.js";

export interface TaskSource {
  getTask(taskId: string): Promise<TaskRecord>;
}

const taskStates: readonly TaskState[] = ["queued", "running", "succeeded", "failed"];

export function apiTaskSource(client: Pick<ApiClient, "request">): TaskSource {
  return {
    async getTask(taskId) {
      const reply: unknown = await client.request(
        "GET",
        `/api/v1/tasks/${encodeURIComponent(taskId)}`,
        TaskReply,
      );
      return checkTaskReply(reply, taskId);
    },
  };
}

/**
 * The follower acts on `state`, `progress` and `message`, so those are checked; the rest is shown
 * as it comes. A state this CLI does not know means the controller is newer than the CLI.
 */
export function checkTaskReply(reply: unknown, taskId: string): TaskRecord {
  const task = isObject(reply) ? reply["task"] : undefined;
  const bad = (what: string) =>
    new EtherplaneError(
      "PROTOCOL",
      `the controller's reply for task ${taskId} ${what}; is the CLI older than the controller?`,
      { params: { taskId } },
    );
  if (!isObject(task)) throw bad("has no task");
  if (task["id"] !== taskId) throw bad(`is about another task (${String(task["id"])})`);
  if (!taskStates.includes(task["state"] as TaskState))
    throw bad(`has a state this CLI does not know (${String(task["state"])})`);
  if (typeof task["progress"] !== "number" || typeof task["message"] !== "string")
    throw bad("lacks its progress or message");
  return task as unknown as TaskRecord;
}
