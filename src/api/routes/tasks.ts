/** /api/v1/tasks: the task list (newest first, by state) and one task. */
import { createRoute, z } from "@hono/zod-openapi";
import { EtherplaneError } from "../../foundation/errors.js";
import type { ApiApp, ApiDeps } from "../context.js";
import { numberKey, page, PageQuery } from "../paging.js";
import { TaskListReply, TaskReply } from "../replies.js";
import { bearer, errors, idParam, json, need } from "../route-kit.js";

/** The task list pages through the newest this many (the Store's largest list). */
const TASKS_IN_REACH = 10_000;

export function taskRoutes(app: ApiApp, { controller }: ApiDeps): void {
  const { store } = controller;

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tasks",
      tags: ["tasks"],
      security: bearer,
      request: {
        query: PageQuery.extend({
          state: z.enum(["queued", "running", "succeeded", "failed"]).optional(),
        }),
      },
      responses: {
        200: json(TaskListReply, `newest first (of the newest ${TASKS_IN_REACH} kept in reach)`),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const { state, ...query } = c.req.valid("query");
      const tasks = await store.listTasks({ ...(state ? { state } : {}), limit: TASKS_IN_REACH });
      const { items, nextCursor } = page(
        tasks,
        (t) => `${numberKey(t.createdMs)}\u0000${t.id}`,
        query,
        true,
      );
      return c.json({ tasks: items, nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tasks/{id}",
      tags: ["tasks"],
      security: bearer,
      request: { params: idParam },
      responses: { 200: json(TaskReply, "the task"), ...errors },
    }),
    async (c) => {
      need(c, "read");
      const task = await store.getTask(c.req.valid("param").id);
      if (!task) throw new EtherplaneError("NOT_FOUND", `no task ${c.req.valid("param").id}`);
      return c.json({ task }, 200);
    },
  );
}
