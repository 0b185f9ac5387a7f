/** /api/v1 tasks, hosts, pools, tokens and the audit log. */
import { createRoute, z } from "@hono/zod-openapi";
import { EtherplaneError } from "../../foundation/errors.js";
import type { ApiApp, ApiDeps } from "../context.js";
import { NextCursor, numberKey, page, PageQuery } from "../paging.js";
import { audit, bearer, body, errors, json, need } from "../route-kit.js";
import {
  AuditSchema,
  CreatePoolRequest,
  CreateTokenRequest,
  HostSchema,
  PoolSchema,
  TaskSchema,
  TokenSchema,
} from "../schemas.js";

/** The task list pages through the newest this many (the Store's largest list). */
const TASKS_IN_REACH = 10_000;

const idParam = z.object({ id: z.string().min(1).max(128) });

export function clusterRoutes(app: ApiApp, { controller }: ApiDeps): void {
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
        200: json(
          z.object({ tasks: z.array(TaskSchema), nextCursor: NextCursor }),
          `newest first (of the newest ${TASKS_IN_REACH} kept in reach)`,
        ),
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
      responses: { 200: json(z.object({ task: TaskSchema }), "the task"), ...errors },
    }),
    async (c) => {
      need(c, "read");
      const task = await store.getTask(c.req.valid("param").id);
      if (!task) throw new EtherplaneError("NOT_FOUND", `no task ${c.req.valid("param").id}`);
      return c.json({ task }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/hosts",
      tags: ["hosts"],
      security: bearer,
      request: { query: PageQuery },
      responses: {
        200: json(
          z.object({ hosts: z.array(HostSchema), nextCursor: NextCursor }),
          "the hosts, by name",
        ),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const { items, nextCursor } = page(
        await store.listHosts(),
        (h) => h.name,
        c.req.valid("query"),
      );
      const hosts = items.map((h) => ({
        ...h,
        lastSeenMs: controller.agents.lastSeen(h),
        state: controller.ha.state(h.id),
      }));
      return c.json({ hosts, nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/aoe/foreign-targets",
      tags: ["hosts"],
      security: bearer,
      request: { query: PageQuery },
      responses: {
        200: json(
          z.object({
            targets: z.array(
              z.object({ hostId: z.string(), shelf: z.number().int(), slot: z.number().int() }),
            ),
            nextCursor: NextCursor,
          }),
          "AoE addresses answered on a storage segment by targets this cluster does not manage (never given to volumes)",
        ),
        ...errors,
      },
    }),
    (c) => {
      need(c, "read");
      const { items, nextCursor } = page(
        controller.agents.foreignTargets(),
        (t) => `${t.hostId}\u0000${numberKey(t.shelf)}.${numberKey(t.slot)}`,
        c.req.valid("query"),
      );
      return c.json({ targets: items, nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/pools",
      tags: ["pools"],
      security: bearer,
      request: { query: PageQuery },
      responses: {
        200: json(
          z.object({ pools: z.array(PoolSchema), nextCursor: NextCursor }),
          "the pools, by name then host",
        ),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const { items, nextCursor } = page(
        await store.listPools(),
        (p) => `${p.name}\u0000${p.hostId}`,
        c.req.valid("query"),
      );
      return c.json({ pools: items, nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/pools",
      tags: ["pools"],
      security: bearer,
      request: body(CreatePoolRequest),
      responses: { 201: json(z.object({ pool: PoolSchema }), "created"), ...errors },
    }),
    async (c) => {
      need(c, "admin");
      const spec = c.req.valid("json");
      const pool = await controller.createPool(spec);
      audit(c, `pool ${pool.name} (${pool.id}) on ${spec.host}`);
      return c.json({ pool }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/pools/{id}",
      tags: ["pools"],
      security: bearer,
      request: { params: idParam },
      responses: { 204: { description: "deleted" }, ...errors },
    }),
    async (c) => {
      need(c, "admin");
      await store.deletePool(c.req.valid("param").id);
      audit(c, `pool ${c.req.valid("param").id}`);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tokens",
      tags: ["tokens"],
      security: bearer,
      request: { query: PageQuery },
      responses: {
        200: json(
          z.object({ tokens: z.array(TokenSchema), nextCursor: NextCursor }),
          "the tokens (never their secrets), oldest first",
        ),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "admin");
      const { items, nextCursor } = page(
        await store.listTokens(),
        (t) => `${numberKey(t.createdMs)}\u0000${t.id}`,
        c.req.valid("query"),
      );
      return c.json(
        { tokens: items.map(({ secretHash: _hash, ...token }) => token), nextCursor },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/tokens",
      tags: ["tokens"],
      security: bearer,
      request: body(CreateTokenRequest),
      responses: {
        201: json(
          z.object({ token: TokenSchema, secret: z.string() }),
          "the secret is shown this once",
        ),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "admin");
      const spec = c.req.valid("json");
      const ttlMs = spec.expiresInSeconds === undefined ? undefined : spec.expiresInSeconds * 1000;
      if (spec.replace && spec.role !== "join")
        throw new EtherplaneError(
          "INVALID_ARGUMENT",
          "replace: only a join token replaces a host (--role join --replace)",
          { params: { field: "replace" } },
        );
      const replaced = spec.replace ? await store.findHostByName(spec.name) : undefined;
      if (spec.replace && !replaced)
        throw new EtherplaneError(
          "NOT_FOUND",
          `no host ${spec.name} to replace (etherplane host list); a new host joins with a token made without --replace`,
          { params: { field: "name" } },
        );
      const { token, secret } =
        spec.role === "join"
          ? await controller.auth.createJoinToken({
              hostName: spec.name,
              ...(ttlMs === undefined ? {} : { ttlMs }),
              replaceHostId: replaced?.id ?? null,
            })
          : await controller.auth.createToken({
              name: spec.name,
              role: spec.role,
              expiresMs: ttlMs === undefined ? null : Date.now() + ttlMs,
            });
      audit(
        c,
        `token ${token.name} (${token.role}${replaced ? `, replaces host ${replaced.id}` : ""})`,
      );
      const { secretHash: _hash, ...shown } = token;
      return c.json({ token: shown, secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/tokens/{id}",
      tags: ["tokens"],
      security: bearer,
      request: { params: idParam },
      responses: { 204: { description: "revoked" }, ...errors },
    }),
    async (c) => {
      need(c, "admin");
      await controller.auth.revoke(c.req.valid("param").id);
      audit(c, `token ${c.req.valid("param").id}`);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/audit",
      tags: ["audit"],
      security: bearer,
      request: {
        query: z.object({
          limit: z.coerce.number().int().min(1).max(10_000).optional(),
          afterId: z.coerce.number().int().min(0).optional(),
          cursor: z
            .string()
            .regex(/^\d{1,16}$/)
            .optional()
            .openapi({
              description:
                "the nextCursor of the previous page; 0 starts at the oldest entry (without it: the newest `limit`)",
            }),
        }),
      },
      responses: {
        200: json(
          z.object({
            entries: z.array(AuditSchema),
            nextCursor: NextCursor,
            refusedUnauthenticated: z.number().int().openapi({
              description:
                "calls refused for want of a valid token since the controller started (summarised in the log, at most one row per interval)",
            }),
          }),
          "oldest first",
        ),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "admin");
      const { limit = 100, afterId, cursor } = c.req.valid("query");
      const after = cursor !== undefined ? Number(cursor) : afterId;
      const entries = await store.listAudit({
        limit,
        ...(after !== undefined ? { afterId: after } : {}),
      });
      const last = entries.at(-1);
      return c.json(
        {
          entries,
          // Paging forward from a cursor; the newest `limit` (no cursor) has nothing after it.
          nextCursor:
            after !== undefined && entries.length === limit && last ? String(last.id) : null,
          refusedUnauthenticated: controller.audit.counters().refusedUnauthenticated,
        },
        200,
      );
    },
  );
}
