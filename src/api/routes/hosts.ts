/** /api/v1/hosts and the AoE targets seen on storage segments that the cluster does not manage. */
import { createRoute } from "@hono/zod-openapi";
import type { Controller } from "../../cluster/controller/controller.js";
import { hostState } from "../../cluster/controller/host-state.js";
import type { HostRecord } from "../../cluster/model.js";
import type { ApiApp, ApiDeps } from "../context.js";
import { numberKey, page, PageQuery } from "../paging.js";
import { ForeignTargetListReply, HostListReply } from "../replies.js";
import { bearer, errors, json, need } from "../route-kit.js";

/** A host as the API shows it: when last seen, and its one state (host-state.ts). */
export function withState(controller: Controller, host: HostRecord) {
  return {
    ...host,
    lastSeenMs: controller.agents.lastSeen(host),
    state: hostState(controller.ha.state(host.id), host.maintenance),
  };
}

export function hostRoutes(app: ApiApp, { controller }: ApiDeps): void {
  const { store } = controller;

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/hosts",
      tags: ["hosts"],
      security: bearer,
      request: { query: PageQuery },
      responses: {
        200: json(
          HostListReply,
          "the hosts, by name, each with its state (lease, HA and maintenance combined)",
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
      const hosts = items.map((h) => withState(controller, h));
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
          ForeignTargetListReply,
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
}
