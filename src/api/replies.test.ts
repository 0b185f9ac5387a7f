/**
 * The server and its clients cannot drift apart silently: every route declares its reply with a
 * schema from replies.ts (the one the client checks replies against), and the real routes'
 * replies fit those schemas (inProcessApi checks every 2xx reply: testing/reply-conformance.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as replies from "./replies.js";
import { inProcessApi } from "./testing/in-process-api.js";
import { checkDeclaredReply } from "./testing/reply-conformance.js";

const webFile = `name = "web"
kernel = "/boot/vmlinuz"
memory = 128
vcpus = 1
`;

test("every route's JSON reply schema is one that replies.ts exports", async () => {
  const b = await inProcessApi();
  const exported = new Set<unknown>(Object.values(replies));
  let checked = 0;
  for (const route of b.routes)
    for (const [status, schema] of route.replies) {
      if (status < 200 || status > 299 || schema === undefined) continue;
      checked++;
      assert.ok(
        exported.has(schema),
        `${route.method} ${route.path} ${status}: declare its reply with a schema from replies.ts`,
      );
    }
  assert.ok(checked >= 35, `only ${checked} replies declared`);
  await b.close();
});

test("a reply that does not fit its route's schema is caught by the conformance check", async () => {
  const b = await inProcessApi();
  assert.throws(
    () => checkDeclaredReply(b.routes, "GET", "/api/v1/volumes/web", 200, { volume: {} }),
    /GET \/api\/v1\/volumes\/\{ref\} answered 200 .* volume\.id:/,
  );
  assert.throws(
    () => checkDeclaredReply(b.routes, "DELETE", "/api/v1/pools/p1", 200, {}),
    /does not declare/,
  );
  checkDeclaredReply(b.routes, "DELETE", "/api/v1/pools/p1", 204, undefined);
  await b.close();
});

test("the routes' actual replies fit their declared schemas", async () => {
  const b = await inProcessApi({ ms: 1_000_000 });
  const hit = new Set<string>();
  const call = async (method: string, path: string, body?: unknown, token = b.admin) => {
    const reply = await b.call<unknown>(method, path, token, body);
    assert.ok(
      reply.status >= 200 && reply.status <= 299,
      `${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`,
    );
    const pathname = new URL(path, "http://x").pathname;
    const route = b.routes.find((r) => r.method === method && r.pattern.test(pathname));
    if (route) hit.add(`${route.method} ${route.path}`);
    return reply.body as Record<string, unknown>;
  };

  const agent = await b.joinHost("h1", ["storage", "compute"]);
  await call("POST", "/api/v1/agent/lease", undefined, agent.token);
  await call("GET", "/api/v1/agent/desired", undefined, agent.token);
  await call("POST", "/api/v1/pools", {
    host: "h1",
    name: "default",
    kind: "directory",
    path: "/srv/h1",
  });
  await call("GET", "/api/v1/pools");
  await call("POST", "/api/v1/volumes", { name: "v1", sizeBytes: 1 << 20, pool: "default" });
  await call("GET", "/api/v1/volumes");
  await call("GET", "/api/v1/volumes/v1");
  await call("GET", "/api/v1/tasks");
  const { tasks } = await call("GET", "/api/v1/tasks?limit=1");
  const taskId = (tasks as Array<{ id: string }>)[0]?.id ?? "";
  await call("GET", `/api/v1/tasks/${taskId}`);
  await call("POST", "/api/v1/volumes", { name: "v2", sizeBytes: 1 << 20, pool: "default" });
  await call("DELETE", "/api/v1/volumes/v2?force=true");

  await call("POST", "/api/v1/networks", { host: "h1", name: "lan" });
  await call("GET", "/api/v1/networks");
  await call("POST", "/api/v1/domains", { config: webFile });
  await call("GET", "/api/v1/domains");
  await call("GET", "/api/v1/domains/web");
  await call("PATCH", "/api/v1/domains/web/settings", { antiAffinity: "front" });
  await call("GET", "/api/v1/domains/web/placement");

  await call("GET", "/api/v1/hosts");
  await call("GET", "/api/v1/aoe/foreign-targets");
  await call("POST", "/api/v1/tokens", { name: "ops", role: "operator" });
  await call("GET", "/api/v1/tokens");
  await call("GET", "/api/v1/settings");
  await call("GET", "/api/v1/audit?cursor=0");
  await call("GET", "/api/v1/cluster-events");
  await call("POST", "/api/v1/hosts/h1/maintenance", {});
  await b.controller.maintenance.idle();
  await call("POST", "/api/v1/hosts/h1/activate");
  await b.controller.maintenance.idle();
  await call("GET", "/api/v1/health");

  assert.ok(hit.size >= 27, `${hit.size} routes answered: ${[...hit].join(", ")}`);
  await b.close();
});
