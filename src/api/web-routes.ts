/**
 * What the web UI needs from the API beside the REST routes: who the caller is, console tickets
 * (a browser cannot send a bearer token on a WebSocket), the change feed as server-sent events,
 * and the UI's own files at `/` (no token: they hold no data; every call they make needs one).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { EtherplaneError } from "../foundation/errors.js";
import type { Topic } from "../web/change-feed.js";
import type { WebServices } from "../web/web-services.js";
import type { ApiApp, ApiDeps } from "./context.js";
import { audit, bearer, body, errors, json, need } from "./route-kit.js";
import { ConsoleTicketReply, WhoAmIReply } from "./replies.js";

/** Only what the UI's own files need: no external script, style, font or frame. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** A comment line now and then keeps proxies from closing an idle event stream. */
const KEEPALIVE_MS = 25_000;

const ConsoleTicketRequest = z
  .object({ domain: z.string().min(1).max(128).openapi({ description: "domain name or id" }) })
  .strict()
  .openapi("ConsoleTicketRequest");

export function webRoutes(app: ApiApp, { controller }: ApiDeps, web: WebServices): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/whoami",
      tags: ["tokens"],
      security: bearer,
      responses: { 200: json(WhoAmIReply, "the caller's token: its name and role"), ...errors },
    }),
    async (c) => {
      const principal = c.get("principal");
      const token = (await controller.store.listTokens()).find((t) => t.id === principal.tokenId);
      return c.json(
        {
          name: principal.name,
          role: principal.role,
          tokenId: principal.tokenId,
          expiresMs: token?.expiresMs ?? null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/console-tickets",
      tags: ["domains"],
      security: bearer,
      request: body(ConsoleTicketRequest),
      responses: {
        201: json(
          ConsoleTicketReply,
          "a single-use ticket for the console WebSocket at path?ticket=...; it expires in 30 s",
        ),
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "write");
      const domain = await controller.domains.get(c.req.valid("json").domain);
      const state = domain.observed?.state ?? "stopped";
      if (domain.hostId === null || state === "stopped")
        throw new EtherplaneError(
          "CONFLICT",
          `domain ${domain.name} is not running: start it first`,
        );
      const issued = web.tickets.issue({ principal, domainId: domain.id });
      audit(c, `console ticket for ${domain.name}`);
      return c.json({ ...issued, path: "/api/v1/console/ws" }, 201);
    },
  );

  // Server-sent events: `change` with the topics whose lists changed; the UI refetches those.
  // Not an OpenAPI route: its body is a stream, not JSON.
  app.get("/api/v1/events", (c) => {
    need(c, "read");
    return streamSSE(c, async (stream) => {
      const queue: Array<{ version: number; topics: Topic[] }> = [];
      let wake: (() => void) | null = null;
      let over = false;
      const end = () => {
        over = true;
        wake?.();
      };
      const unsubscribe = web.feed.subscribe((change) => {
        queue.push(change);
        // Bounded: a slow reader gets one merged change, not a backlog.
        if (queue.length > 8) queue.splice(0, queue.length, mergeChanges(queue));
        wake?.();
      }, end);
      stream.onAbort(end);
      await stream.writeSSE({ event: "hello", data: JSON.stringify({ topics: [] }) });
      void web.feed.check();
      while (!over && !stream.aborted) {
        const next = queue.shift();
        if (next) {
          await stream.writeSSE({ event: "change", data: JSON.stringify(next) });
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, KEEPALIVE_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
        if (!over && !stream.aborted && queue.length === 0) await stream.write(": keepalive\n\n");
      }
      unsubscribe();
    });
  });

  // The UI itself, outside /api: no token needed to load the page, only to use it.
  app.get("*", async (c, next) => {
    if (c.req.path.startsWith("/api/")) return next();
    const asset = web.assets.lookup(c.req.path);
    if (!asset) {
      if (web.assets.missing && c.req.path === "/") return c.text(`${web.assets.missing}\n`, 503);
      return next();
    }
    const headers = {
      "content-type": asset.type,
      etag: asset.etag,
      "cache-control": "no-cache",
      "content-security-policy": CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    };
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(asset.body), 200, headers);
  });
}

function mergeChanges(changes: Array<{ version: number; topics: Topic[] }>) {
  const topics = new Set(changes.flatMap((change) => change.topics));
  return { version: changes.at(-1)?.version ?? 0, topics: [...topics] };
}
