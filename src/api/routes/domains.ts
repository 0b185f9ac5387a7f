/**
 * /api/v1/domains: domain files (import, edit, delete) and the lifecycle. Lifecycle calls answer
 * 202 with the domain and its task; the host's agent does the work. The console is not a route
 * here: it is an HTTP upgrade (console-upgrade.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp, ApiDeps } from "../context.js";
import { page, PageQuery } from "../paging.js";
import { DomainListReply, DomainTaskReply, DomainWithAvailabilityReply } from "../replies.js";
import type { DomainImportResult } from "../../cluster/controller/domain-service.js";
import type { DomainRecord } from "../../cluster/model.js";
import { describeAllowed } from "../../domain/policy/index.js";
import { audit, bearer, body, errors, json, need } from "../route-kit.js";
import { domainAvailability } from "../../cluster/controller/domain-availability.js";
import {
  DomainImportResponse,
  ImportDomainRequest,
  MigrateDomainRequest,
  ShutdownDomainRequest,
  StartDomainRequest,
  UpdateDomainRequest,
} from "../domain-schemas.js";

const ref = z.object({
  ref: z.string().min(1).max(128).openapi({ description: "domain name or id" }),
});
const tags = ["domains"];

/** The audit log's note of unsafe settings that went in (an admin's explicit allowance). */
function unsafe(result: DomainImportResult): string {
  return result.unsafeAllowed.length === 0
    ? ""
    : `; unsafe settings allowed: ${describeAllowed(result.unsafeAllowed)}`;
}

export function domainRoutes(app: ApiApp, { controller }: ApiDeps): void {
  const { domains, lifecycle } = controller;
  /** The record as the API shows it: with why HA holds its restart, if it does. */
  const view = (domain: DomainRecord): DomainRecord => {
    const haHeld = controller.ha.heldReason(domain.id);
    return haHeld === undefined ? domain : { ...domain, haHeld };
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/domains",
      tags,
      security: bearer,
      request: { query: PageQuery },
      responses: {
        200: json(DomainListReply, "the domains, by name"),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const { items, nextCursor } = page(await domains.list(), (d) => d.name, c.req.valid("query"));
      return c.json({ domains: items.map(view), nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/domains",
      tags,
      security: bearer,
      request: body(ImportDomainRequest),
      responses: { 201: json(DomainImportResponse, "imported"), ...errors },
    }),
    async (c) => {
      const principal = need(c, "write");
      const spec = c.req.valid("json");
      const result = await domains.importFile(spec.config, spec.source ?? "<domain file>", {
        role: principal.role,
        allowUnsafe: spec.allowUnsafe ?? [],
      });
      audit(c, `domain ${result.domain.name} (${result.domain.id}) imported${unsafe(result)}`);
      return c.json(result, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/domains/{ref}",
      tags,
      security: bearer,
      request: { params: ref },
      responses: {
        200: json(
          DomainWithAvailabilityReply,
          "the domain, and its availability over the last 24 h and since it was created",
        ),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "read");
      const domain = await domains.get(c.req.valid("param").ref);
      const changes = await controller.store.listDomainStateChanges(domain.id);
      return c.json(
        { domain: view(domain), availability: domainAvailability(changes, Date.now()) },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/api/v1/domains/{ref}",
      tags,
      security: bearer,
      request: { params: ref, ...body(UpdateDomainRequest) },
      responses: { 200: json(DomainImportResponse, "the file is replaced"), ...errors },
    }),
    async (c) => {
      const principal = need(c, "write");
      const spec = c.req.valid("json");
      const result = await domains.updateFile(
        c.req.valid("param").ref,
        spec.config,
        spec.source ?? "<domain file>",
        spec.generation,
        { role: principal.role, allowUnsafe: spec.allowUnsafe ?? [] },
      );
      audit(c, `domain ${result.domain.name} (${result.domain.id}) edited${unsafe(result)}`);
      return c.json(result, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/domains/{ref}",
      tags,
      security: bearer,
      request: { params: ref },
      responses: { 204: { description: "deleted (its volumes stay)" }, ...errors },
    }),
    async (c) => {
      need(c, "write");
      const domain = await domains.get(c.req.valid("param").ref);
      await domains.delete(domain.id);
      audit(c, `domain ${domain.name} (${domain.id}) deleted`);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/domains/{ref}/start",
      tags,
      security: bearer,
      request: { params: ref, ...body(StartDomainRequest) },
      responses: { 202: json(DomainTaskReply, "placed; the task follows the start"), ...errors },
    }),
    async (c) => {
      const principal = need(c, "write");
      const { host } = c.req.valid("json");
      const result = await lifecycle.start(
        c.req.valid("param").ref,
        principal.name,
        host === undefined ? {} : { host },
      );
      audit(c, `start ${result.domain.name} on ${result.domain.hostId ?? "?"}`);
      return c.json(result, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/domains/{ref}/migrate",
      tags,
      security: bearer,
      request: { params: ref, ...body(MigrateDomainRequest) },
      responses: {
        202: json(DomainTaskReply, "checked; the task follows the migration"),
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "write");
      const { host, live } = c.req.valid("json");
      const result = await controller.migrations.migrate(c.req.valid("param").ref, {
        ...(host === undefined ? {} : { host }),
        live: live ?? true,
        actor: principal.name,
      });
      audit(c, `migrate ${result.domain.name}: ${result.task.message}`);
      return c.json(result, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/domains/{ref}/shutdown",
      tags,
      security: bearer,
      request: { params: ref, ...body(ShutdownDomainRequest) },
      responses: { 202: json(DomainTaskReply, "the guest is asked to power off"), ...errors },
    }),
    async (c) => {
      const principal = need(c, "write");
      const { timeoutS } = c.req.valid("json");
      const result = await lifecycle.shutdown(
        c.req.valid("param").ref,
        principal.name,
        timeoutS === undefined ? {} : { timeoutS },
      );
      audit(c, `shutdown ${result.domain.name}`);
      return c.json(result, 202);
    },
  );

  for (const action of ["destroy", "reboot", "pause", "unpause"] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/api/v1/domains/{ref}/${action}`,
        tags,
        security: bearer,
        request: { params: ref },
        responses: { 202: json(DomainTaskReply, `${action} requested`), ...errors },
      }),
      async (c) => {
        const principal = need(c, "write");
        const result = await lifecycle[action](c.req.valid("param").ref, principal.name);
        audit(c, `${action} ${result.domain.name}`);
        return c.json(result, 202);
      },
    );
  }
}
