/**
 * Replies that do not fit the route's schema (src/api/replies.ts), from a real node:http server
 * on 127.0.0.1: a missing field, a wrong type, a proxy's HTML page, JSON cut short, an empty body.
 * Each is a PROTOCOL error naming the route and the first field, and the CLI exits 5 with it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  DesiredStateOrNoChange,
  HostListReply,
  VolumeListReply,
  VolumeReply,
} from "../../api/replies.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { ApiClient } from "./api-client.js";
import { runCliAgainst } from "../../../test/lab/cli-process.js";
import { requestAllPages } from "./pages.js";
import { sendJson, startTestHttpServer, type TestHttpServer } from "./test-http-server.js";
import type { ServerResponse } from "node:http";

const token = "ept_reply-check-token";
let answer: (url: string, response: ServerResponse) => void = (_url, response) =>
  sendJson(response, 200, {});
let server: TestHttpServer;
before(async () => {
  server = await startTestHttpServer((request, response) => answer(request.url, response));
});
after(() => server.close());

const client = () => new ApiClient({ baseUrl: server.url, token });

function volume(name: string): Record<string, unknown> {
  return {
    id: `vol-${name}`,
    name,
    kind: "volume",
    poolId: "pool-1",
    hostId: "host-1",
    sizeBytes: 1 << 20,
    allocatedBytes: null,
    sourceId: null,
    shelf: 1,
    slot: 0,
    exported: true,
    allow: [],
    allowEveryone: false,
    grants: [],
    appliedGeneration: 1,
    state: "ready",
    error: null,
    generation: 1,
    createdMs: 1,
    updatedMs: 1,
  };
}

async function refused(promise: Promise<unknown>): Promise<EtherplaneError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EtherplaneError, `not an EtherplaneError: ${String(error)}`);
    assert.equal(error.code, "PROTOCOL", error.message);
    assert.ok(!error.message.includes(token), "the token is never in a message");
    return error;
  }
  assert.fail("the reply was accepted");
}

const versionHint = /Is the controller the same etherplane version as this one \(API [\d.]+\)\?/;

test("a reply that fits comes back as it came (a newer controller's extra field stays)", async () => {
  answer = (_url, response) =>
    sendJson(response, 200, { volume: { ...volume("web"), newField: 7 }, alsoNew: true });
  const reply = await client().request("GET", "/api/v1/volumes/web", VolumeReply);
  assert.equal(reply.volume.name, "web");
  assert.equal((reply.volume as Record<string, unknown>)["newField"], 7);
});

test("a newer controller's field inside a strict object (a host's inventory) is no reason to refuse", async () => {
  const inventory = { hostname: "h1", agentVersion: "9.9.9", interfaces: [], gpus: 2 };
  const host = {
    id: "host-1",
    name: "h1",
    roles: ["compute"],
    exportInterfaces: [],
    inventory,
    lastSeenMs: null,
    maintenance: null,
    createdMs: 1,
  };
  answer = (_url, response) => sendJson(response, 200, { hosts: [host], nextCursor: null });
  const reply = await client().request("GET", "/api/v1/hosts", HostListReply);
  assert.deepEqual(reply.hosts[0]?.inventory, inventory);
});

test("a missing field names the route and the field, and what to do", async () => {
  const { sizeBytes: _gone, ...partial } = volume("web");
  answer = (_url, response) => sendJson(response, 200, { volume: partial });
  const error = await refused(client().request("GET", "/api/v1/volumes/web", VolumeReply));
  assert.match(
    error.message,
    new RegExp(
      `^the controller at ${server.url} answered GET /api/v1/volumes/web \\(HTTP 200\\) with a ` +
        "reply this etherplane does not understand: volume\\.sizeBytes: ",
    ),
  );
  assert.match(error.message, versionHint);
  assert.match(error.message, /curl .*\/api\/v1\/health/);
  assert.equal(error.params["field"], "volume.sizeBytes");
  assert.equal(error.params["path"], "/api/v1/volumes/web");
});

test("a wrong type deep in a list names its index", async () => {
  const host = {
    id: "host-1",
    name: "h1",
    roles: ["compute"],
    exportInterfaces: [],
    inventory: null,
    lastSeenMs: null,
    maintenance: null,
    createdMs: 1,
  };
  answer = (_url, response) =>
    sendJson(response, 200, {
      hosts: [host, { ...host, id: "host-2", roles: "compute" }],
      nextCursor: null,
    });
  const error = await refused(requestAllPages(client(), "/api/v1/hosts", "hosts", HostListReply));
  assert.equal(error.params["field"], "hosts[1].roles");
  assert.match(error.message, /hosts\[1\]\.roles: .*expected array/);
});

test("a proxy's HTML page with status 200 is not taken for a reply", async () => {
  answer = (_url, response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<!DOCTYPE html>\n<html><body>Welcome to nginx!</body></html>");
  };
  const error = await refused(client().request("GET", "/api/v1/volumes", VolumeListReply));
  assert.match(error.message, /something other than JSON \(it starts "<!DOCTYPE html> <html>/);
  assert.match(
    error.message,
    /Or is http:\/\/127\.0\.0\.1:\d+ a proxy rather than the controller\?/,
  );
});

test("JSON cut short, and an empty body where one was due", async () => {
  answer = (_url, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(`{"volumes": [${JSON.stringify(volume("web"))}, {"id": "vol-`);
  };
  const cut = await refused(client().request("GET", "/api/v1/volumes", VolumeListReply));
  assert.match(cut.message, /JSON that breaks off or does not parse/);
  answer = (_url, response) => response.writeHead(200).end();
  const empty = await refused(client().request("GET", "/api/v1/volumes/web", VolumeReply));
  assert.match(empty.message, /an empty reply where a JSON body was due/);
});

test("a union (desired state or 204) names the field of the state, not 'expected undefined'", async () => {
  answer = (_url, response) => response.writeHead(204).end();
  assert.equal(
    await client().request("GET", "/api/v1/agent/desired?after=r1", DesiredStateOrNoChange),
    undefined,
  );
  answer = (_url, response) => sendJson(response, 200, { hostId: "host-1" });
  const error = await refused(
    client().request("GET", "/api/v1/agent/desired?after=r1", DesiredStateOrNoChange),
  );
  assert.equal(error.params["field"], "revision");
});

test("`etherplane volume list` on a reply that does not fit exits 5 with the message", async () => {
  answer = (_url, response) =>
    sendJson(response, 200, { volumes: [{ name: "web", sizeBytes: "1M" }], nextCursor: null });
  const result = await runCliAgainst(server.url, token, ["volume", "list"]);
  assert.equal(result.code, 5, `PROTOCOL exits 5 (exit-codes.ts); stderr: ${result.stderr}`);
  assert.match(
    result.stderr,
    /^etherplane: the controller at .* answered GET \/api\/v1\/volumes\?limit=1000 \(HTTP 200\) with a reply this etherplane does not understand: volumes\[0\]\.id: /,
  );
  assert.match(result.stderr, versionHint);
  assert.equal(result.stdout, "", "nothing half-printed");
});
