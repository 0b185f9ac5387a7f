/** /api/v1/audit: the audit log of mutating calls, oldest first, paged by entry id. */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp, ApiDeps } from "../context.js";
import { bearer, errors, json, need } from "../route-kit.js";
import { AuditListReply } from "../replies.js";

export function auditRoutes(app: ApiApp, { controller }: ApiDeps): void {
  const { store } = controller;

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
        200: json(AuditListReply, "oldest first"),
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
