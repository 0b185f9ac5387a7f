/**
 * /api/v1 placement, cluster settings, the event log and host maintenance (issue 11): the dry
 * run `etherplane place`, `settings`, `events` and `host maintenance|activate`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp, ApiDeps } from "../context.js";
import { audit, bearer, body, errors, json, need } from "../route-kit.js";
import {
  EventListReply,
  HostTaskReply,
  MaintenanceReply,
  PlacementReply,
  SettingListReply,
  SettingReply,
} from "../replies.js";
import { withState } from "./hosts.js";

const ref = z.object({ ref: z.string().min(1).max(128).openapi({ description: "name or id" }) });

export function operationsRoutes(app: ApiApp, { controller }: ApiDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/settings",
      tags: ["settings"],
      security: bearer,
      responses: {
        200: json(SettingListReply, "the settings"),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      return c.json({ settings: await controller.settings.list() }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/api/v1/settings/{key}",
      tags: ["settings"],
      security: bearer,
      request: {
        params: z.object({ key: z.string().min(1).max(64) }),
        ...body(z.object({ value: z.number() }).strict()),
      },
      responses: { 200: json(SettingReply, "set"), ...errors },
    }),
    async (c) => {
      const principal = need(c, "admin");
      const { key } = c.req.valid("param");
      const setting = await controller.settings.set(key, c.req.valid("json").value);
      audit(c, `setting ${setting.key} = ${setting.value}`);
      await controller.events.record(
        "cluster.setting",
        setting.key,
        `${setting.key} = ${setting.value}`,
        { by: principal.name },
      );
      return c.json({ setting }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/domains/{ref}/placement",
      tags: ["domains"],
      security: bearer,
      request: { params: ref },
      responses: {
        200: json(
          PlacementReply,
          "a dry run: every host, why it fits or not, and the one a start would choose",
        ),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const domain = await controller.domains.get(c.req.valid("param").ref);
      return c.json({ plan: await controller.placement.plan(domain) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/cluster-events",
      tags: ["events"],
      security: bearer,
      request: {
        query: z.object({
          limit: z.coerce.number().int().min(1).max(10_000).optional(),
          sinceMs: z.coerce.number().int().min(0).optional(),
          cursor: z
            .string()
            .regex(/^\d{1,16}$/)
            .optional()
            .openapi({ description: "the nextCursor of the previous page (an event id)" }),
        }),
      },
      responses: {
        200: json(
          EventListReply,
          "oldest first: after the cursor or from sinceMs, else the newest `limit`; the event stream (/api/v1/events) says when there are more",
        ),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const { limit = 100, sinceMs, cursor } = c.req.valid("query");
      const events = await controller.events.list({
        limit,
        ...(sinceMs === undefined ? {} : { sinceMs }),
        ...(cursor === undefined ? {} : { afterId: Number(cursor) }),
      });
      const last = events.at(-1);
      // The cursor to ask again from: the last event seen (or the one given when none came).
      return c.json({ events, nextCursor: last ? String(last.id) : (cursor ?? null) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/hosts/{ref}/maintenance",
      tags: ["hosts"],
      security: bearer,
      request: {
        params: ref,
        ...body(z.object({ allowRestart: z.boolean().optional() }).strict()),
      },
      responses: {
        202: json(MaintenanceReply, "in maintenance; the task moves its domains away"),
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "write");
      const { allowRestart = false } = c.req.valid("json");
      const result = await controller.maintenance.enter(c.req.valid("param").ref, {
        allowRestart,
        actor: principal.name,
      });
      audit(c, `host ${result.host.name} maintenance${allowRestart ? " --allow-restart" : ""}`);
      return c.json({ ...result, host: withState(controller, result.host) }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/hosts/{ref}/activate",
      tags: ["hosts"],
      security: bearer,
      request: { params: ref },
      responses: {
        202: json(HostTaskReply, "active again"),
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "write");
      const result = await controller.maintenance.activate(
        c.req.valid("param").ref,
        principal.name,
      );
      audit(c, `host ${result.host.name} activate`);
      return c.json({ ...result, host: withState(controller, result.host) }, 202);
    },
  );
}
