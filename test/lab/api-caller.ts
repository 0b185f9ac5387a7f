/** Calls the controller's REST API from tests, as any HTTP client would, and waits for tasks. */
import type { TaskRecord } from "../../src/cluster/model.js";

export interface Reply<T> {
  status: number;
  body: T;
}

export interface ApiCaller {
  call: <T = Record<string, unknown>>(
    method: string,
    route: string,
    body?: unknown,
    token?: string | null,
  ) => Promise<Reply<T>>;
  /** Polls a task until it leaves `running`; fails after `timeoutMs`. */
  settled: (task: Pick<TaskRecord, "id">, timeoutMs?: number) => Promise<TaskRecord>;
}

/** `url` and `token` are read at each call, so they may be set after the caller is made. */
export function apiCaller(url: () => string, token: () => string | null): ApiCaller {
  const call = async <T>(
    method: string,
    route: string,
    body?: unknown,
    as: string | null = token(),
  ): Promise<Reply<T>> => {
    const response = await fetch(`${url()}${route}`, {
      method,
      headers: {
        ...(as ? { authorization: `Bearer ${as}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined
        ? {}
        : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  };
  const settled = async (task: Pick<TaskRecord, "id">, timeoutMs = 30_000): Promise<TaskRecord> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${task.id}`);
      if (body.task.state !== "running" && body.task.state !== "queued") return body.task;
      if (Date.now() > deadline)
        throw new Error(`task ${task.id} still ${body.task.state}: ${body.task.message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { call, settled };
}
