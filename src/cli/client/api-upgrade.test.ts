/**
 * The one controller client's error answers, for a plain call and an upgraded connection (the
 * console, a migration stream), against a real HTTP server on 127.0.0.1; and `etherplane console`
 * itself, run as a process, on a controller that answers 500: it must exit non-zero (issue 9: a
 * cast peer code once made it exit 0).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, test } from "node:test";
import { EtherplaneError } from "../../foundation/errors.js";
import { exitCodeFor } from "../exit-codes.js";
import { ApiClient } from "./api-client.js";
import { runCliAgainst } from "../../../test/lab/cli-process.js";
import { z } from "zod";

const token = "ept_upgrade-test-token";

type Answer = (request: IncomingMessage, response: ServerResponse) => void;
type Upgrade = (request: IncomingMessage, socket: Socket) => void;

/** One real server for the file; each test sets how it answers requests and upgrades. */
let answer: Answer = (_request, response) => response.end();
/** Without an 'upgrade' listener Node hands upgrade requests to 'request': `answer` refuses them. */
function setUpgrade(upgrade: Upgrade | undefined): void {
  server.removeAllListeners("upgrade");
  if (upgrade) server.on("upgrade", upgrade);
}
const server = createServer((request, response) => answer(request, response));
let baseUrl = "";
before(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function client(timeoutMs = 60_000): ApiClient {
  return new ApiClient({ baseUrl, token, timeoutMs });
}

function json(status: number, body: unknown): Answer {
  return (_request, response) => {
    const text = JSON.stringify(body);
    response.writeHead(status, { "content-type": "application/json" });
    response.end(text);
  };
}

async function failure(promise: Promise<unknown>): Promise<EtherplaneError> {
  const error = await promise.then(
    () => assert.fail("the call did not fail"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof EtherplaneError, `not an EtherplaneError: ${String(error)}`);
  assert.ok(!error.message.includes(token), `token in message: ${error.message}`);
  return error;
}

const calls = {
  request: (c: ApiClient) => c.request("GET", "/api/v1/domains/web", z.unknown()),
  upgrade: (c: ApiClient) => c.upgrade("/api/v1/domains/web/console", "etherplane-console"),
};

void test("a 500 fails the call with a non-zero exit code, whatever its body, on both paths", async () => {
  setUpgrade(undefined);
  const bodies: Array<[string, Answer, string]> = [
    ["a known code", json(500, { error: { code: "INTERNAL", message: "boom" } }), "INTERNAL"],
    [
      "an unknown code",
      json(500, { error: { code: "SOMETHING_NEW", message: "x" } }),
      "UNAVAILABLE",
    ],
    ["no JSON", (_q, response) => response.writeHead(500).end("<html>oops</html>"), "UNAVAILABLE"],
    ["an empty body", (_q, response) => response.writeHead(500).end(), "UNAVAILABLE"],
  ];
  for (const [what, reply, code] of bodies) {
    answer = reply;
    for (const [path, call] of Object.entries(calls)) {
      const error = await failure(call(client()));
      assert.equal(error.code, code, `${path}, ${what}`);
      assert.notEqual(exitCodeFor(error), 0, `${path}, ${what}: a failure exits non-zero`);
      assert.equal(error.params["status"], 500, `${path}, ${what}`);
    }
  }
});

void test("an error answer keeps its code and message, and an unknown code is kept as remoteCode", async () => {
  setUpgrade(undefined);
  answer = json(409, { error: { code: "CONFLICT", message: "domain web is not running" } });
  for (const call of Object.values(calls)) {
    const error = await failure(call(client()));
    assert.equal(error.code, "CONFLICT");
    assert.equal(error.message, "domain web is not running");
    assert.equal(exitCodeFor(error), 8);
  }
  answer = json(503, { error: { code: "NEW_CODE", message: `no ${token} here` } });
  for (const call of Object.values(calls)) {
    const error = await failure(call(client()));
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(error.params["remoteCode"], "NEW_CODE");
    assert.match(error.message, /no \*\*\* here/, "an echoed token is masked");
  }
});

void test("an upgrade: the token and protocol are sent, and bytes flow both ways after 101", async () => {
  let seen: IncomingMessage | undefined;
  setUpgrade((request, socket) => {
    seen = request;
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: etherplane-console\r\n\r\nhello ",
    );
    socket.pipe(socket);
  });
  const stream = await client().upgrade("/api/v1/domains/web/console", "etherplane-console");
  stream.write("world");
  let text = "";
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    text += chunk.toString("utf8");
    if (text.length >= "hello world".length) break;
  }
  assert.equal(text, "hello world");
  assert.equal(seen?.headers.authorization, `Bearer ${token}`);
  assert.equal(seen?.headers.upgrade, "etherplane-console");
  assert.equal(seen?.url, "/api/v1/domains/web/console");
});

void test("an upgrade answered 200 is not this API: PROTOCOL", async () => {
  setUpgrade(undefined);
  answer = json(200, { ok: true });
  const error = await failure(calls.upgrade(client()));
  assert.equal(error.code, "PROTOCOL");
  assert.notEqual(exitCodeFor(error), 0);
});

void test("an upgrade that gets no answer is a TIMEOUT; a refused one says to start a controller", async () => {
  setUpgrade(() => undefined); // holds the connection, never answers
  const timedOut = await failure(calls.upgrade(client(300)));
  assert.equal(timedOut.code, "TIMEOUT");
  assert.match(timedOut.message, /did not answer GET \/api\/v1\/domains\/web\/console/);
  server.closeAllConnections();

  const closed = createServer();
  closed.listen(0, "127.0.0.1");
  await once(closed, "listening");
  const { port } = closed.address() as AddressInfo;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const refused = await failure(
    new ApiClient({ baseUrl: `http://127.0.0.1:${port}`, token }).upgrade(
      "/x",
      "etherplane-console",
    ),
  );
  assert.equal(refused.code, "UNAVAILABLE");
  assert.match(refused.message, /connection refused/);
});

void test("`etherplane console` on a controller that answers 500 exits non-zero with its message", async () => {
  setUpgrade(undefined);
  answer = json(500, { error: { code: "INTERNAL", message: "the broker fell over" } });
  const result = await runCliAgainst(baseUrl, token, ["console", "web"]);
  assert.notEqual(result.code, 0, `exit code; stderr: ${result.stderr}`);
  assert.equal(result.code, 1, "INTERNAL exits 1 (exit-codes.ts)");
  assert.match(result.stderr, /the broker fell over/);
});
