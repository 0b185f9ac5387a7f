/** Small helpers the route files share: JSON bodies, the common error responses, permissions. */
import { z } from "@hono/zod-openapi";
import type { Context, TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import { authorize, type Permission } from "../cluster/controller/auth-service.js";
import type { ApiEnv } from "./context.js";
import { ErrorSchema } from "./schemas.js";

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export function body<T extends z.ZodType>(schema: T) {
  return { body: { required: true, content: { "application/json": { schema } } } };
}

/** The error responses every authenticated route can give. */
export const errors = {
  400: json(ErrorSchema, "bad input: the message names the field and the fix"),
  401: json(ErrorSchema, "no token, or an unknown one"),
  403: json(ErrorSchema, "the token's role may not do this"),
  404: json(ErrorSchema, "no such record"),
  409: json(ErrorSchema, "clashes with the current state"),
} as const;

export const bearer = [{ bearer: [] }];

/** Checks the caller may do `permission` (403 otherwise) and returns the caller. */
export function need(c: Context<ApiEnv>, permission: Permission) {
  const principal = c.get("principal");
  authorize(principal, permission);
  return principal;
}

/** Records what a mutating call acted on, for the audit log. */
export function audit(c: Context<ApiEnv>, subject: string): void {
  c.set("auditSubject", subject);
}

/**
 * A 200 answer whose JSON is serialised already (the store's volume list), sent as it is and typed
 * as `c.json(value as T)` would be. The caller vouches that `text` is the JSON of a `T`: the Store
 * contract test checks listVolumesJson against listVolumes.
 */
export function jsonText<T>(
  c: Context<ApiEnv>,
  text: string,
): TypedResponse<JSONParsed<T>, 200, "json"> {
  const response = c.body(text, 200, { "content-type": "application/json" });
  // Why the cast: hono types a body as untyped; this one is T's JSON (see above).
  return response as unknown as TypedResponse<JSONParsed<T>, 200, "json">;
}

/** The path parameter of a record named by its id (a task, a pool, a token). */
export const idParam = z.object({ id: z.string().min(1).max(128) });
