/**
 * A controller's 2xx reply checked against the schema its route declares (src/api/replies.ts):
 * a controller of another version, a proxy's page or a bug then fails here, naming the route and
 * the first field that does not fit, rather than as `undefined` deep inside a command.
 */
import type { z } from "zod";
import { API_VERSION } from "../../api/replies.js";
import { EtherplaneError } from "../../foundation/errors.js";
import type { RequestContext } from "./api-errors.js";

/** Fields quoted in a message are cut to this, so a hostile reply cannot flood the terminal. */
const QUOTE_CHARS_MAX = 200;

type Issue = z.core.$ZodIssue;

/**
 * Returns `value` (as it came: a newer controller's extra fields stay, for --json output) once it
 * fits `schema`; a PROTOCOL error otherwise. `value` is the parsed JSON, undefined for no body.
 */
export function checkReply<S extends z.ZodType>(
  schema: S,
  value: unknown,
  context: RequestContext & { status: number },
): z.output<S> {
  const result = schema.safeParse(value);
  // Fields this etherplane does not know (a newer controller's, even inside the API's strict
  // objects) are no reason to refuse a reply: only missing or mistyped ones are.
  const issues = result.success
    ? []
    : result.error.issues.filter((issue) => issue.code !== "unrecognized_keys");
  // Why the cast: the schemas have no transforms or defaults, so what fits is what they output.
  if (issues.length === 0) return value as z.output<S>;
  const issue = deepestIssue(issues);
  throw badReply(context, describe(issue, value), {
    field: issue ? fieldPath(issue.path) : "",
  });
}

/** The error for a reply that is not what the route answers; `what` says how it is not. */
export function badReply(
  context: RequestContext & { status: number },
  what: string,
  params: Record<string, unknown> = {},
): EtherplaneError {
  const { method, path, baseUrl, status } = context;
  return new EtherplaneError(
    "PROTOCOL",
    `the controller at ${baseUrl} answered ${method} ${path} (HTTP ${status}) with a reply ` +
      `this etherplane does not understand: ${what}. Is the controller the same etherplane ` +
      `version as this one (API ${API_VERSION})? \`curl ${baseUrl}/api/v1/health\` shows its ` +
      `version; upgrade the older one. Or is ${baseUrl} a proxy rather than the controller?`,
    { params: { method, path, status, ...params } },
  );
}

function describe(issue: Issue | undefined, value: unknown): string {
  if (value === undefined) return "an empty reply where a JSON body was due";
  if (!issue) return "it does not fit the route's schema";
  const where = issue.path.length === 0 ? "the reply" : fieldPath(issue.path);
  return `${where}: ${issue.message}`.slice(0, QUOTE_CHARS_MAX);
}

/** `volumes[3].sizeBytes` from ["volumes", 3, "sizeBytes"]. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text;
}

/**
 * The first issue, or inside a union (a state or a 204) the one that went deepest: the branch the
 * reply was meant to be, not "expected undefined".
 */
function deepestIssue(issues: readonly Issue[], depth = 0): Issue | undefined {
  const first = issues[0];
  if (!first || first.code !== "invalid_union" || depth > 8) return first;
  let best: Issue | undefined;
  for (const branch of first.errors) {
    const candidate = deepestIssue(branch, depth + 1);
    if (!candidate) continue;
    const path = [...first.path, ...candidate.path];
    if (!best || path.length > best.path.length) best = { ...candidate, path };
  }
  return best ?? first;
}
