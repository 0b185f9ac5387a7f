import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { inspect } from "node:util";
import { EtherplaneError, isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import { ApiClient } from "./api-client.js";
import {
  sendJson,
  startTestHttpServer,
  type TestHandler,
  type TestHttpServer,
} from "./test-http-server.js";
import { z } from "zod";
import { NoContent } from "../../api/replies.js";

const token = "ept_s3cret-token-value";

/** One server for the file; each test sets what it answers. */
let handler: TestHandler = (_request, response) => sendJson(response, 200, {});
let server: TestHttpServer;
before(async () => {
  server = await startTestHttpServer((request, response) => handler(request, response));
});
after(() => server.close());

function client(options: { timeoutMs?: number; replyBytesMax?: number } = {}): ApiClient {
  return new ApiClient({ baseUrl: server.url, token, ...options });
}

async function failure(promise: Promise<unknown>): Promise<EtherplaneError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EtherplaneError, `not an EtherplaneError: ${String(error)}`);
    assert.ok(!error.message.includes(token), `token in message: ${error.message}`);
    assert.ok(!JSON.stringify(error.params).includes(token), "token in params");
    return error;
  }
  assert.fail("the request did not fail");
}

test("success: JSON body out, JSON reply back, bearer token sent", async () => {
  handler = (request, response) =>
    sendJson(response, 202, { task: { id: "t1" }, echo: request.body });
  const reply = await client().request(
    "POST",
    "/api/v1/volumes",
    z.object({ task: z.object({ id: z.string() }), echo: z.string() }),
    { name: "web", sizeBytes: 1024 },
  );
  assert.deepEqual(reply.task, { id: "t1" });
  assert.deepEqual(JSON.parse(reply.echo), { name: "web", sizeBytes: 1024 });
  const request = server.requests.at(-1);
  assert.equal(request?.method, "POST");
  assert.equal(request?.url, "/api/v1/volumes");
  assert.equal(request?.headers.authorization, `Bearer ${token}`);
  assert.equal(request?.headers["content-type"], "application/json");
});

test("an empty reply (204) is undefined; a GET sends no body", async () => {
  handler = (_request, response) => response.writeHead(204).end();
  assert.equal(await client().request("DELETE", "/api/v1/volumes/v1", NoContent), undefined);
  handler = (_request, response) => sendJson(response, 200, [1, 2]);
  assert.deepEqual(await client().request("GET", "/api/v1/x", z.array(z.number())), [1, 2]);
  assert.equal(server.requests.at(-1)?.body, "");
  assert.equal(server.requests.at(-1)?.headers["content-type"], undefined);
});

test("error replies: each status maps to a code when the body has none", async () => {
  const cases: Array<[number, ErrorCode]> = [
    [400, "INVALID_ARGUMENT"],
    [401, "UNAUTHENTICATED"],
    [403, "FORBIDDEN"],
    [404, "NOT_FOUND"],
    [409, "CONFLICT"],
    [500, "UNAVAILABLE"],
    [503, "UNAVAILABLE"],
  ];
  for (const [status, code] of cases) {
    handler = (_request, response) => response.writeHead(status).end("oops, not JSON");
    const error = await failure(client().request("GET", "/api/v1/hosts", z.unknown()));
    assert.equal(error.code, code, `HTTP ${status}`);
    assert.ok(
      error.message.startsWith(
        `the controller at ${server.url} answered GET /api/v1/hosts with HTTP ${status}`,
      ),
      error.message,
    );
    assert.equal(error.params["status"], status);
  }
});

test("error replies: a known code, the message and the field come from the body", async () => {
  handler = (_request, response) =>
    sendJson(response, 400, {
      error: { code: "OUT_OF_RANGE", message: "size is beyond the pool", field: "sizeBytes" },
    });
  const error = await failure(client().request("POST", "/api/v1/volumes", z.unknown(), {}));
  assert.equal(error.code, "OUT_OF_RANGE");
  assert.equal(error.message, "size is beyond the pool");
  assert.equal(error.params["field"], "sizeBytes");

  handler = (_request, response) =>
    sendJson(response, 409, { error: { code: "SOMETHING_NEW", message: "name in use" } });
  const unknown = await failure(client().request("POST", "/api/v1/volumes", z.unknown(), {}));
  assert.equal(unknown.code, "CONFLICT");
  assert.equal(unknown.message, "name in use");
  assert.equal(unknown.params["remoteCode"], "SOMETHING_NEW");
  assert.equal(unknown.params["field"], undefined);
});

test("401 adds how to log in; a token echoed by the server is masked", async () => {
  handler = (request, response) =>
    sendJson(response, 401, {
      error: {
        code: "UNAUTHENTICATED",
        message: `unknown token ${request.headers.authorization}`,
        field: `authorization: ${request.headers.authorization}`,
      },
    });
  const error = await failure(client().request("GET", "/api/v1/hosts", z.unknown()));
  assert.equal(error.code, "UNAUTHENTICATED");
  assert.equal(
    error.message,
    "unknown token Bearer *** (log in with `etherplane login --controller URL --token-file FILE`)",
  );
  assert.equal(error.params["field"], "authorization: Bearer ***");
});

test("a 2xx reply that is not JSON is a PROTOCOL error", async () => {
  handler = (_request, response) => response.writeHead(200).end("<html>hello</html>");
  const error = await failure(client().request("GET", "/api/v1/hosts", z.unknown()));
  assert.equal(error.code, "PROTOCOL");
  assert.match(error.message, /something other than JSON \(it starts "<html>hello<\/html>"\)/);
  assert.match(error.message, /Or is .* a proxy rather than the controller\?/);
});

test("replies past replyBytesMax are refused, declared or streamed", async () => {
  const big = JSON.stringify({ data: "x".repeat(4096) });
  handler = (_request, response) => sendJson(response, 200, JSON.parse(big));
  const declared = await failure(
    client({ replyBytesMax: 1024 }).request("GET", "/api/v1/big", z.unknown()),
  );
  assert.equal(declared.code, "PROTOCOL");
  assert.match(declared.message, /larger than 1024 bytes/);
  handler = (_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.write(big.slice(0, 2000));
    response.end(big.slice(2000));
  };
  const streamed = await failure(
    client({ replyBytesMax: 1024 }).request("GET", "/api/v1/big", z.unknown()),
  );
  assert.equal(streamed.code, "PROTOCOL");
  assert.deepEqual(await client().request("GET", "/api/v1/big", z.unknown()), JSON.parse(big));
});

test("a controller that does not answer in time is a TIMEOUT naming the call", async () => {
  handler = () => undefined; // never answers
  const startMs = Date.now();
  const error = await failure(
    client({ timeoutMs: 200 }).request("GET", "/api/v1/slow", z.unknown()),
  );
  assert.equal(error.code, "TIMEOUT");
  assert.ok(Date.now() - startMs < 5000);
  assert.equal(
    error.message,
    `the controller at ${server.url} did not answer GET /api/v1/slow within 0.2s; ` +
      "is it overloaded or stuck? try again, or check its logs",
  );
});

test("a refused connection says which URL and to start a controller", async () => {
  // A port that was just free: bind it, note it, close it.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const url = `http://127.0.0.1:${port}`;
  const error = await failure(
    new ApiClient({ baseUrl: url, token }).request("GET", "/api/v1/hosts", z.unknown()),
  );
  assert.equal(error.code, "UNAVAILABLE");
  assert.equal(
    error.message,
    `cannot reach the controller at ${url} (connection refused): is the controller running? ` +
      "start one with `etherplane up`, or name another with --controller URL",
  );
});

test("the client refuses bad settings without quoting the token", () => {
  assert.throws(
    () => new ApiClient({ baseUrl: "ftp://x", token }),
    (error) => isEtherplaneError(error, "INVALID_ARGUMENT"),
  );
  assert.throws(
    () => new ApiClient({ baseUrl: server.url, token: "ept bad\r\nX-Evil: 1" }),
    (error) => isEtherplaneError(error, "INVALID_ARGUMENT") && !error.message.includes("Evil"),
  );
  // The token is a private field: inspecting the client does not show it.
  assert.ok(!inspect(client(), { depth: 5 }).includes(token));
  assert.ok(!JSON.stringify(client()).includes(token));
});

// A stream that did not end would hang the file: the timeout turns that into a failure.
test(
  "an event stream ends when its caller aborts, however long it waited and after a GC",
  { timeout: 60_000 },
  async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write("event: hello\ndata: {}\n\n");
      // ... then nothing more: the stream idles, as the controller's does between changes.
    };
    const stop = new AbortController();
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const chunk of client().stream("/api/v1/events", stop.signal)) {
        chunks.push(chunk);
        // What Node 20 collected while a stream idled (a signal made by AbortSignal.any).
        (globalThis as { gc?: () => void }).gc?.();
        setTimeout(() => stop.abort(), 50);
      }
    })();
    await reading;
    assert.match(chunks.join(""), /event: hello/);
    assert.ok(stop.signal.aborted);
  },
);
