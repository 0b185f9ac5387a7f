/** /api/v1 tasks, hosts, pools, tokens and the audit log. */
import { createRoute, z } from "@hono/zod-openapi";
import { EtherplaneError } from "../../foundation/errors.js";
import type { ApiApp, ApiDeps } from "../context.js";
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
        query: z.object({
          state: z.enum(["queued", "running", "succeeded", "failed"]).optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
      },
      responses: { 200: json(z.object({ tasks: z.array(TaskSchema) }), "newest first"), ...errors },
    }),
    async (c) => {
      need(c, "read");
      const { state, limit } = c.req.valid("query");
      return c.json(
        { tasks: await store.listTasks({ ...(state ? { state } : {}), limit: limit ?? 100 }) },
        200,
      );
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
      responses: { 200: json(z.object({ hosts: z.array(HostSchema) }), "the hosts"), ...errors },
    }),
    async (c) => {
      need(c, "read");
      return c.json({ hosts: await store.listHosts() }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/aoe/foreign-targets",
      tags: ["hosts"],
      security: bearer,
      responses: {
        200: json(
          z.object({
            targets: z.array(
              z.object({ hostId: z.string(), shelf: z.number().int(), slot: z.number().int() }),
            ),
          }),
          "AoE addresses answered on a storage segment by targets this cluster does not manage (never given to volumes)",
        ),
        ...errors,
      },
    }),
    (c) => {
      need(c, "read");
      return c.json({ targets: controller.agents.foreignTargets() }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/pools",
      tags: ["pools"],
      security: bearer,
      responses: { 200: json(z.object({ pools: z.array(PoolSchema) }), "the pools"), ...errors },
    }),
    async (c) => {
      need(c, "read");
      return c.json({ pools: await store.listPools() }, 200);
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
      responses: {
        200: json(z.object({ tokens: z.array(TokenSchema) }), "the tokens (never their secrets)"),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "admin");
      const tokens = await store.listTokens();
      return c.json({ tokens: tokens.map(({ secretHash: _hash, ...token }) => token) }, 200);
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
      const expiresMs =
        spec.expiresInSeconds === undefined ? null : Date.now() + spec.expiresInSeconds * 1000;
      const { token, secret } = await controller.auth.createToken({
        name: spec.name,
        role: spec.role,
        expiresMs,
      });
      audit(c, `token ${token.name} (${token.role})`);
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
        }),
      },
      responses: {
        200: json(
          z.object({
            entries: z.array(AuditSchema),
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
      const { limit, afterId } = c.req.valid("query");
      return c.json(
        {
          entries: await store.listAudit({
            limit: limit ?? 100,
            ...(afterId !== undefined ? { afterId } : {}),
          }),
          refusedUnauthenticated: controller.audit.counters().refusedUnauthenticated,
        },
        200,
      );
    },
  );
}
