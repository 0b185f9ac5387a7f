/** /api/v1/volumes: the volume lifecycle. Mutations answer 202 with the volume and its task. */
import { createRoute, z } from "@hono/zod-openapi";
import { EtherplaneError } from "../../foundation/errors.js";
import type { VolumeRecord } from "../../cluster/model.js";
import type { ApiApp, ApiDeps } from "../context.js";
import { decodeCursor, encodeCursor, PAGE_LIMIT_DEFAULT, PageQuery } from "../paging.js";
import { VolumeListReply, VolumeReply } from "../replies.js";
import { audit, bearer, body, errors, json, need } from "../route-kit.js";
import {
  AccessRequest,
  CopyVolumeRequest,
  CreateVolumeRequest,
  ResizeVolumeRequest,
  VolumeTaskResponse,
} from "../schemas.js";

const ref = z.object({
  ref: z.string().min(1).max(128).openapi({ description: "volume name or id" }),
});
const tags = ["volumes"];

export function volumeRoutes(app: ApiApp, { controller }: ApiDeps): void {
  const { volumes } = controller;

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/volumes",
      tags,
      security: bearer,
      request: {
        query: PageQuery.extend({ host: z.string().optional(), pool: z.string().optional() }),
      },
      responses: {
        200: json(VolumeListReply, "the volumes, by name"),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const { host, pool, limit = PAGE_LIMIT_DEFAULT, cursor } = c.req.valid("query");
      const filter = {
        ...(host ? { hostId: (await controller.host(host)).id } : {}),
        ...(pool ? { poolId: pool } : {}),
        ...(cursor !== undefined ? { afterName: decodeCursor(cursor) } : {}),
        // One more than the page: whether there is a next page.
        limit: limit + 1,
      };
      // A page is at most PAGE_LIMIT_MAX + 1 records, read by name from where the cursor points
      // (the store builds their JSON text: docs/benchmarks.md).
      const list = JSON.parse(await volumes.listJson(filter)) as VolumeRecord[];
      const shown = list.slice(0, limit);
      const last = shown.at(-1);
      return c.json(
        {
          volumes: shown,
          nextCursor: list.length > limit && last ? encodeCursor(last.name) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/volumes",
      tags,
      security: bearer,
      request: body(CreateVolumeRequest),
      responses: {
        202: json(VolumeTaskResponse, "recorded; the task follows its creation"),
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "write");
      const spec = c.req.valid("json");
      const result = await volumes.create(spec, principal.name);
      audit(c, `volume ${result.volume.name} (${result.volume.id}) ${spec.sizeBytes} bytes`);
      return c.json(result, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/volumes/{ref}",
      tags,
      security: bearer,
      request: { params: ref },
      responses: { 200: json(VolumeReply, "the volume"), ...errors },
    }),
    async (c) => {
      need(c, "read");
      return c.json({ volume: await volumes.get(c.req.valid("param").ref) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/volumes/{ref}/resize",
      tags,
      security: bearer,
      request: { params: ref, ...body(ResizeVolumeRequest) },
      responses: { 202: json(VolumeTaskResponse, "growing"), ...errors },
    }),
    async (c) => {
      const principal = need(c, "write");
      const result = await volumes.resize(
        c.req.valid("param").ref,
        c.req.valid("json").sizeBytes,
        principal.name,
      );
      audit(c, `volume ${result.volume.name} to ${result.volume.sizeBytes} bytes`);
      return c.json(result, 202);
    },
  );

  for (const kind of ["snapshot", "clone"] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/api/v1/volumes/{ref}/${kind}`,
        tags,
        security: bearer,
        request: { params: ref, ...body(CopyVolumeRequest) },
        responses: { 202: json(VolumeTaskResponse, `the new ${kind}`), ...errors },
      }),
      async (c) => {
        const principal = need(c, "write");
        const spec = c.req.valid("json");
        const options = {
          ...(spec.address !== undefined ? { address: spec.address } : {}),
          ...(spec.exported !== undefined ? { exported: spec.exported } : {}),
        };
        const result = await volumes.copy(
          kind,
          c.req.valid("param").ref,
          spec.name,
          principal.name,
          options,
        );
        audit(c, `${kind} ${result.volume.name} of ${c.req.valid("param").ref}`);
        return c.json(result, 202);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/volumes/{ref}",
      tags,
      security: bearer,
      request: { params: ref, query: z.object({ force: z.enum(["true", "false"]).optional() }) },
      responses: { 202: json(VolumeTaskResponse, "being deleted"), ...errors },
    }),
    async (c) => {
      const principal = need(c, "write");
      const result = await volumes.remove(
        c.req.valid("param").ref,
        c.req.valid("query").force === "true",
        principal.name,
      );
      audit(c, `volume ${result.volume.name} (${result.volume.id})`);
      return c.json(result, 202);
    },
  );

  for (const action of ["export", "unexport"] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/api/v1/volumes/{ref}/${action}`,
        tags,
        security: bearer,
        request: { params: ref },
        responses: { 202: json(VolumeTaskResponse, `${action}ing`), ...errors },
      }),
      async (c) => {
        const principal = need(c, "write");
        const result = await volumes.change(
          c.req.valid("param").ref,
          { exported: action === "export" },
          principal.name,
        );
        audit(c, `${action} ${result.volume.name}`);
        return c.json(result, 202);
      },
    );
  }

  for (const action of ["allow", "deny"] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/api/v1/volumes/{ref}/${action}`,
        tags,
        security: bearer,
        request: { params: ref, ...body(AccessRequest) },
        responses: { 202: json(VolumeTaskResponse, `access changed`), ...errors },
      }),
      async (c) => {
        const spec = c.req.valid("json");
        // Opening a volume to the whole segment (or closing it again) is the admin's call.
        const principal = need(c, spec.everyone ? "admin" : "write");
        const macs = [...(spec.macs ?? [])];
        for (const host of spec.hosts ?? []) macs.push(...(await controller.hostMacs(host)));
        if (macs.length === 0 && !spec.everyone)
          throw new EtherplaneError(
            "INVALID_ARGUMENT",
            `macs: give MACs, hosts, or everyone: true`,
            { params: { field: "macs" } },
          );
        const result = await volumes.change(
          c.req.valid("param").ref,
          {
            [action]: macs,
            ...(spec.everyone ? { everyone: action === "allow" } : {}),
          },
          principal.name,
        );
        const who = [...macs, ...(spec.everyone ? ["everyone"] : [])].join(",");
        audit(c, `${action} ${who} on ${result.volume.name}`);
        return c.json(result, 202);
      },
    );
  }
}
