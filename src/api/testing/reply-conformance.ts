/**
 * For tests: the reply schema each route declares (its OpenAPI responses), read from the app's
 * registry, and a check that an actual reply fits it. inProcessApi runs every 2xx reply through
 * it, so each route test also proves the server answers what its clients check (replies.ts).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { z } from "zod";
import { fieldPath } from "../../cli/client/reply-check.js";
import type { ApiEnv } from "../context.js";

export interface DeclaredRoute {
  method: string;
  /** The OpenAPI path, e.g. /api/v1/volumes/{ref}. */
  path: string;
  pattern: RegExp;
  /** Status -> the JSON schema declared for it (absent: no body, e.g. 204). */
  replies: Map<number, z.ZodType | undefined>;
}

type Registry = OpenAPIHono<ApiEnv>["openAPIRegistry"];

function isZodType(value: unknown): value is z.ZodType {
  return typeof value === "object" && value !== null && "safeParse" in value;
}

export function declaredRoutes(registry: Registry): DeclaredRoute[] {
  const routes: DeclaredRoute[] = [];
  for (const definition of registry.definitions) {
    if (definition.type !== "route") continue;
    const { method, path, responses } = definition.route;
    const replies = new Map<number, z.ZodType | undefined>();
    for (const [status, response] of Object.entries(responses)) {
      const content = "content" in response ? response.content : undefined;
      const media: unknown = content?.["application/json"];
      const schema: unknown =
        typeof media === "object" && media !== null && "schema" in media ? media.schema : undefined;
      replies.set(Number(status), isZodType(schema) ? schema : undefined);
    }
    const pattern = new RegExp(
      `^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`,
    );
    routes.push({ method: method.toUpperCase(), path, pattern, replies });
  }
  return routes;
}

/**
 * Throws when a 2xx reply to `method url` does not fit the schema its route declares for that
 * status (or the route declares no such status). Routes outside the registry (the event stream,
 * the web UI's files) are not checked.
 */
export function checkDeclaredReply(
  routes: readonly DeclaredRoute[],
  method: string,
  url: string,
  status: number,
  body: unknown,
): void {
  if (status < 200 || status > 299) return;
  const pathname = new URL(url, "http://x").pathname;
  const route = routes.find((r) => r.method === method && r.pattern.test(pathname));
  if (!route) return;
  const where = `${method} ${route.path}`;
  if (!route.replies.has(status))
    throw new Error(`${where} answered ${status}, which the route does not declare`);
  const schema = route.replies.get(status);
  if (!schema) {
    if (body !== undefined)
      throw new Error(`${where} answered ${status} with a body it declares none for`);
    return;
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(
      `${where} answered ${status} with a reply that does not fit its declared schema: ` +
        `${issue ? `${fieldPath(issue.path) || "(the reply)"}: ${issue.message}` : "?"}`,
    );
  }
}
