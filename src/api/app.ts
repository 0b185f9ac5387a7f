/**
 * The controller's REST API: JSON over HTTP, every route with a schema (validated on the way in,
 * documented at /api/v1/openapi.json), every call authenticated by a bearer token, every mutating
 * call written to the audit log (who, what, when, result). Errors become statuses in one place
 * (error-mapping.ts).
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { EtherplaneError } from "../foundation/errors.js";
import { createLogger } from "../foundation/log.js";
import type { ApiDeps, ApiEnv } from "./context.js";
import { toErrorResponse } from "./error-mapping.js";
import { json } from "./route-kit.js";
import { API_VERSION, HealthReply } from "./replies.js";

export { API_VERSION };
import { agentRoutes } from "./routes/agent.js";
import { auditRoutes } from "./routes/audit.js";
import { hostRoutes } from "./routes/hosts.js";
import { poolRoutes } from "./routes/pools.js";
import { taskRoutes } from "./routes/tasks.js";
import { tokenRoutes } from "./routes/tokens.js";
import { domainRoutes } from "./routes/domains.js";
import { domainSettingsRoutes } from "./routes/domain-settings.js";
import { networkRoutes } from "./routes/networks.js";
import { operationsRoutes } from "./routes/operations.js";
import { volumeRoutes } from "./routes/volumes.js";
import { webRoutes } from "./web-routes.js";
import { metricsRoutes } from "./routes/metrics.js";

const BODY_BYTES_MAX = 1024 * 1024;
/** Calls that are not audited: reads, and agents' periodic status reports (heartbeats). */
const NOT_AUDITED = new Set(["PUT /api/v1/agent/status", "POST /api/v1/agent/lease"]);
const PUBLIC = new Set(["/api/v1/openapi.json", "/api/v1/health"]);

/** Where a route that is gone went: its old callers are told (still a 404, still audited). */
function movedRoute(method: string, path: string): string | undefined {
  const ha = method === "PUT" && /^\/api\/v1\/domains\/([^/]{1,128})\/ha$/.exec(path);
  if (ha)
    return `the HA settings are set with PATCH /api/v1/domains/${ha[1]}/settings {"ha": "on"|"off"|"auto", "haPriority": N}`;
  return undefined;
}

export function createApi(deps: ApiDeps) {
  const log = createLogger("api");
  const app = new OpenAPIHono<ApiEnv>({
    // Validation failures name the field and what is wrong with it.
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const field = issue?.path.join(".") || "(body)";
      return c.json(
        {
          error: {
            code: "INVALID_ARGUMENT",
            message: `${field}: ${issue?.message ?? "invalid"}`,
            field,
          },
        },
        400,
      );
    },
  });

  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status < 500) {
      // Hono's own refusals (a body that is not JSON): a client error, said plainly.
      const message = /json/i.test(error.message)
        ? "the request body is not valid JSON"
        : error.message;
      return c.json({ error: { code: "INVALID_ARGUMENT", message } }, error.status);
    }
    const { status, body } = toErrorResponse(error);
    if (status >= 500)
      log.error(`${c.req.method} ${c.req.path} failed`, { error: error.stack ?? error.message });
    return c.json(body, status as 400);
  });
  app.notFound((c) => {
    const moved = movedRoute(c.req.method, c.req.path);
    return c.json(
      {
        error: {
          code: "NOT_FOUND",
          message: `no route ${c.req.method} ${c.req.path}; ${moved ?? "see /api/v1/openapi.json"}`,
        },
      },
      404,
    );
  });

  const limitBody: MiddlewareHandler<ApiEnv> = bodyLimit({
    maxSize: BODY_BYTES_MAX,
    onError: (c) =>
      c.json(
        {
          error: {
            code: "INVALID_ARGUMENT",
            message: `request body over ${BODY_BYTES_MAX} bytes`,
          },
        },
        413,
      ),
  });
  const limitBodyIfAny = createMiddleware<ApiEnv>((c, next) => {
    // A request without a body passes as it is: Hono's bodyLimit looks at `c.req.raw.body`, which
    // makes the Node adapter build a whole web Request (a stream, an AbortSignal) for each one,
    // a GET or a lease renewal too; that was a tenth of the controller's time at 1,000 agents
    // (docs/benchmarks.md). GET and HEAD bodies are never read (the adapter drops them).
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    if (c.req.header("content-length") === "0" && c.req.header("transfer-encoding") === undefined)
      return next();
    return limitBody(c, next);
  });
  app.use("/api/*", limitBodyIfAny);

  // Authentication, then the audit record of every mutating call (also the refused ones). Calls
  // refused for want of a valid token are counted, and summarised in at most one row per interval
  // (AuditLog): anyone can send them, and a row each would be a disk write each.
  app.use("/api/*", async (c, next) => {
    if (PUBLIC.has(c.req.path)) return next();
    const header = c.req.header("authorization");
    const secret = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    const mutating =
      c.req.method !== "GET" &&
      c.req.method !== "HEAD" &&
      !NOT_AUDITED.has(`${c.req.method} ${c.req.path}`);
    const { audit } = deps.controller;
    let principal;
    try {
      principal = await deps.controller.auth.authenticate(secret);
    } catch (error) {
      await audit.refusedUnauthenticated(c.req.method, c.req.path);
      throw error;
    }
    c.set("principal", principal);
    const entry = {
      actor: principal.name,
      role: principal.role,
      method: c.req.method,
      path: c.req.path,
    };
    try {
      await next();
    } catch (error) {
      if (!mutating) throw error;
      const { status } = toErrorResponse(error);
      await audit.record({
        timeMs: Date.now(),
        ...entry,
        status,
        result: "error",
        subject: c.get("auditSubject") ?? null,
        detail: error instanceof EtherplaneError ? error.message : "internal error",
      });
      throw error;
    }
    if (mutating) {
      const status = c.res.status;
      await audit.record({
        timeMs: Date.now(),
        ...entry,
        status,
        result: status < 400 ? "ok" : "error",
        subject: c.get("auditSubject") ?? null,
        detail: null,
      });
    }
  });

  volumeRoutes(app, deps);
  taskRoutes(app, deps);
  hostRoutes(app, deps);
  poolRoutes(app, deps);
  tokenRoutes(app, deps);
  auditRoutes(app, deps);
  agentRoutes(app, deps);
  domainRoutes(app, deps);
  domainSettingsRoutes(app, deps);
  networkRoutes(app, deps);
  operationsRoutes(app, deps);
  if (deps.web) metricsRoutes(app, deps.web);
  if (deps.web) webRoutes(app, deps, deps.web);

  // Public (no security): load balancers and `etherplane status` probe it without a token.
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/health",
      tags: ["health"],
      responses: {
        200: json(HealthReply, "the controller answers"),
      },
    }),
    (c) => c.json({ ok: true, version: API_VERSION }, 200),
  );
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  app.doc("/api/v1/openapi.json", {
    openapi: "3.0.3",
    info: {
      title: "etherplane controller API",
      version: API_VERSION,
      description: "Volumes over AoE, domains, networks, hosts, pools, tasks, tokens, audit.",
    },
  });
  return app;
}
