/**
 * /api/v1/metrics/hosts: each host's recent samples (memory, guests' CPU load, pool space) for
 * the web UI's small charts; in memory on the controller, bounded (src/web/host-metrics.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { WebServices } from "../../web/web-services.js";
import type { ApiApp } from "../context.js";
import { bearer, errors, json, need } from "../route-kit.js";

const HostSampleSchema = z
  .object({
    atMs: z.number().int(),
    memoryUsedMiB: z.number().int().nullable(),
    memoryTotalMiB: z.number().int().nullable(),
    cpuLoad: z
      .number()
      .nullable()
      .openapi({ description: "vCPU-seconds the host's guests used per second since the last" }),
    poolUsedBytes: z.number().int().nullable(),
    poolCapacityBytes: z.number().int().nullable(),
    exports: z
      .array(
        z.object({ volumeId: z.string(), readBps: z.number(), writeBps: z.number() }).openapi({
          description: "an AoE export's bytes read and written per second since the last sample",
        }),
      )
      .max(32),
  })
  .openapi("HostSample");

export function metricsRoutes(app: ApiApp, web: WebServices): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/metrics/hosts",
      tags: ["hosts"],
      security: bearer,
      responses: {
        200: json(
          z.object({
            hosts: z.array(z.object({ hostId: z.string(), samples: z.array(HostSampleSchema) })),
          }),
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
