/** /api/v1/agent: joining, desired state, status reports. Only join and agent tokens. */
import { createRoute, z } from "@hono/zod-openapi";
import { EtherplaneError } from "../../foundation/errors.js";
import type { ApiApp, ApiDeps } from "../context.js";
import { audit, bearer, body, errors, json, need } from "../route-kit.js";
import { AgentStatusSchema, DesiredStateSchema, JoinRequestSchema } from "../schemas.js";

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
        201: json(
          z.object({ hostId: z.string(), token: z.string() }),
          "the host's own agent token, shown once",
        ),
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
      responses: {
        200: json(DesiredStateSchema, "what this host should hold and export"),
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "agent");
      return c.json(await controller.agents.desired(hostOf(principal.hostId)), 200);
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
