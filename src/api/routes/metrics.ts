/**
 * /api/v1/metrics/hosts: each host's recent samples (memory, guests' CPU load, pool space) for
 * the web UI's small charts; in memory on the controller, bounded (src/web/host-metrics.ts).
 */
import { createRoute } from "@hono/zod-openapi";
import type { WebServices } from "../../web/web-services.js";
import type { ApiApp } from "../context.js";
import { bearer, errors, json, need } from "../route-kit.js";
import { HostMetricsReply } from "../replies.js";

export function metricsRoutes(app: ApiApp, web: WebServices): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/metrics/hosts",
      tags: ["hosts"],
      security: bearer,
      responses: {
        200: json(
          HostMetricsReply,
          "each host's recent samples from its agent's reports, oldest first (kept in memory: empty after a controller restart)",
        ),
        ...errors,
      },
    }),
    (c) => {
      need(c, "read");
      return c.json({ hosts: web.metrics.list() }, 200);
    },
  );
}
