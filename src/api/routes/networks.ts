/** /api/v1/networks: bridges (with uplinks and VLANs) per host, made by the host's agent. */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp, ApiDeps } from "../context.js";
import { page, PageQuery } from "../paging.js";
import { NetworkListReply, NetworkReply } from "../replies.js";
import { audit, bearer, body, errors, json, need } from "../route-kit.js";
import { CreateNetworkRequest } from "../domain-schemas.js";

const tags = ["networks"];

export function networkRoutes(app: ApiApp, { controller }: ApiDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/networks",
      tags,
      security: bearer,
      request: { query: PageQuery.extend({ host: z.string().optional() }) },
      responses: {
        200: json(NetworkListReply, "the networks, by name then host"),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const { host, ...query } = c.req.valid("query");
      const filter = host ? { hostId: (await controller.host(host)).id } : {};
      const { items, nextCursor } = page(
        await controller.networks.list(filter),
        (n) => `${n.name}\u0000${n.hostId}`,
        query,
      );
      return c.json({ networks: items, nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/networks",
      tags,
      security: bearer,
      request: body(CreateNetworkRequest),
      responses: { 201: json(NetworkReply, "recorded"), ...errors },
    }),
    async (c) => {
      need(c, "admin");
      const spec = c.req.valid("json");
      const host = await controller.host(spec.host);
      const network = await controller.networks.create({
        hostId: host.id,
        name: spec.name,
        ...(spec.bridge === undefined ? {} : { bridge: spec.bridge }),
        ...(spec.uplink === undefined ? {} : { uplink: spec.uplink }),
        ...(spec.vlanId === undefined ? {} : { vlanId: spec.vlanId }),
      });
      audit(c, `network ${network.name} (bridge ${network.bridge}) on ${host.name}`);
      return c.json({ network }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/networks/{ref}",
      tags,
      security: bearer,
      request: {
        params: z.object({ ref: z.string().min(1).max(128) }),
        query: z.object({ host: z.string().optional() }),
      },
      responses: { 204: { description: "deleted" }, ...errors },
    }),
    async (c) => {
      need(c, "admin");
      const { host } = c.req.valid("query");
      const hostId = host ? (await controller.host(host)).id : undefined;
      const network = await controller.networks.find(c.req.valid("param").ref, hostId);
      await controller.networks.delete(network.id);
      audit(c, `network ${network.name} (${network.id}) deleted`);
      return c.body(null, 204);
    },
  );
}
