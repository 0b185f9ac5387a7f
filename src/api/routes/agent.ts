/** /api/v1/agent: joining, desired state, status reports. Only join and agent tokens. */
import { createRoute, z } from "@hono/zod-openapi";
import { EtherplaneError } from "../../foundation/errors.js";
import { LONG_POLL_WAIT_MS_MAX } from "../../cluster/controller/desired-watch.js";
import type { ApiApp, ApiDeps } from "../context.js";
import { audit, bearer, body, errors, json, need } from "../route-kit.js";
import { AgentJoinReply } from "../replies.js";
import {
  AgentStatusSchema,
  DesiredStateSchema,
  JoinRequestSchema,
  LeaseGrantSchema,
} from "../schemas.js";

const tags = ["agent"];

export function agentRoutes(app: ApiApp, { controller }: ApiDeps): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/agent/join",
      tags,
      security: bearer,
      request: body(JoinRequestSchema),
      responses: {
        201: json(AgentJoinReply, "the host's own agent token, shown once"),
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "join");
      const { host, secret } = await controller.agents.join(principal.tokenId, c.req.valid("json"));
      audit(c, `host ${host.name} (${host.id}) joined`);
      return c.json({ hostId: host.id, token: secret }, 201);
    },
  );

  const hostOf = (hostId: string | null): string => {
    if (!hostId) throw new EtherplaneError("FORBIDDEN", "this agent token belongs to no host");
    return hostId;
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/agent/desired",
      tags,
      security: bearer,
      request: {
        query: z.object({
          after: z.string().max(64).optional(),
          waitMs: z.coerce.number().int().min(0).max(LONG_POLL_WAIT_MS_MAX).optional(),
        }),
      },
      responses: {
        200: json(DesiredStateSchema, "what this host should hold and export"),
        204: { description: "no change from revision `after` within `waitMs`" },
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "agent");
      const { after, waitMs } = c.req.valid("query");
      const state = await controller.agents.desiredAfter(
        hostOf(principal.hostId),
        after,
        waitMs ?? 0,
      );
      if (state === null) return c.body(null, 204);
      return c.json(state, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/agent/lease",
      tags,
      security: bearer,
      responses: { 200: json(LeaseGrantSchema, "the lease, renewed"), ...errors },
    }),
    async (c) => {
      const principal = need(c, "agent");
      return c.json(await controller.agents.renew(hostOf(principal.hostId)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/api/v1/agent/status",
      tags,
      security: bearer,
      request: body(AgentStatusSchema),
      responses: { 204: { description: "recorded" }, ...errors },
    }),
    async (c) => {
      const principal = need(c, "agent");
      await controller.agents.report(hostOf(principal.hostId), c.req.valid("json"));
      return c.body(null, 204);
    },
  );
}
