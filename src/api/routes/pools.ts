/** /api/v1/pools: list, create (on a host) and delete storage pools. */
import { createRoute } from "@hono/zod-openapi";
import type { ApiApp, ApiDeps } from "../context.js";
import { page, PageQuery } from "../paging.js";
import { PoolListReply, PoolReply } from "../replies.js";
import { audit, bearer, body, errors, idParam, json, need } from "../route-kit.js";
import { CreatePoolRequest } from "../schemas.js";

export function poolRoutes(app: ApiApp, { controller }: ApiDeps): void {
  const { store } = controller;

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/pools",
      tags: ["pools"],
      security: bearer,
      request: { query: PageQuery },
      responses: {
        200: json(PoolListReply, "the pools, by name then host"),
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
      responses: { 201: json(PoolReply, "created"), ...errors },
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
}
