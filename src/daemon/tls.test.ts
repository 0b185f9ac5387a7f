/**
 * TLS on a real controller (real SQLite, a real https listener on loopback, forced with
 * `{ mode: "own" }`): its own CA made once (keys 0600), join tokens pinning it, agents checking
 * the pin before they send the token, consoles over https and an agent's console reaching only
 * its own host's sessions. Also: a peer's 500 through the console client keeps a non-zero exit.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { certSha256 } from "../api/tls/certificates.js";
import { fetchPinnedCa } from "../cli/client/ca-trust.js";
import { ApiClient } from "../cli/client/api-client.js";
import { exitCodeFor } from "../cli/exit-codes.js";
import { isEtherplaneError } from "../foundation/errors.js";
import { duplexPair } from "../cluster/agent/duplex-pair.js";
import { HttpLink, upgradeToConsole } from "../cluster/agent/controller-link.js";
import { joinTokenPin } from "../cluster/controller/join-tokens.js";
import { chooseTls, startController } from "./start-controller.js";
import { AgentJoinReply, HostListReply } from "../api/replies.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-tls-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("chooseTls", () => {
  test("TLS off loopback, plain HTTP on it, --insecure-http explicit", () => {
    assert.deepEqual(chooseTls("10.0.0.1", {}), { mode: "own" });
    assert.deepEqual(chooseTls("0.0.0.0", {}), { mode: "own" });
    assert.deepEqual(chooseTls("127.0.0.1", {}), { mode: "off" });
    assert.deepEqual(chooseTls("::1", {}), { mode: "off" });
    assert.deepEqual(chooseTls("127.0.0.1", { tls: true }), { mode: "own" });
    assert.deepEqual(chooseTls("10.0.0.1", { insecureHttp: true }), { mode: "off" });
    assert.deepEqual(chooseTls("10.0.0.1", { certFile: "c", keyFile: "k" }), {
      mode: "files",
      certFile: "c",
      keyFile: "k",
    });
    assert.throws(() => chooseTls("10.0.0.1", { certFile: "c" }), /both --tls-cert/);
    assert.throws(() => chooseTls("10.0.0.1", { insecureHttp: true, tls: true }), /drop it/);
  });
});

describe("a controller serving TLS with its own CA", () => {
  test("CA made once, join pinned, agents and consoles over https", async () => {
    const dataDir = path.join(dir, "controller");
    const first = await startController({
      dataDir,
      host: "127.0.0.1",
      port: 0,
      tls: { mode: "own" },
    });
    const sha = first.tls?.caSha256;
    await first.stop();
    for (const key of ["ca.key", "server.key"])
      assert.equal(fs.statSync(path.join(dataDir, "tls", key)).mode & 0o777, 0o600, key);

    const started = await startController({
      dataDir,
      host: "127.0.0.1",
      port: 0,
      tls: { mode: "own" },
    });
    try {
      const { controller, server, tls } = started;
      assert.ok(tls);
      assert.equal(tls.caSha256, sha, "the CA is kept across restarts");
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);

      const admin = (await controller.auth.createToken({ name: "admin", role: "admin" })).secret;
      const plain = new ApiClient({ baseUrl: server.url, token: admin });
      await assert.rejects(plain.request("GET", "/api/v1/hosts", HostListReply), (e: unknown) =>
        isEtherplaneError(e, "UNAVAILABLE"),
      );
      const trusted = new ApiClient({ baseUrl: server.url, token: admin, caPem: tls.caPem });
      assert.ok(await trusted.request("GET", "/api/v1/hosts", HostListReply));

      const joinA = (await controller.auth.createJoinToken({ hostName: "host-a" })).secret;
      const pin = joinTokenPin(joinA);
      assert.equal(pin, tls.caSha256, "the join token carries the CA's SHA-256");
      await assert.rejects(fetchPinnedCa(server.url, "0".repeat(64)), (e: unknown) =>
        isEtherplaneError(e, "REFUSED"),
      );
      const caPem = await fetchPinnedCa(server.url, pin ?? "");
      assert.equal(certSha256(caPem), tls.caSha256);

      const join = async (token: string, name: string) =>
        new ApiClient({ baseUrl: server.url, token, caPem }).request(
          "POST",
          "/api/v1/agent/join",
          AgentJoinReply,
          { name, roles: ["compute"], exportInterfaces: [] },
        );
      const a = await join(joinA, "host-a");
      const joinC = (await controller.auth.createJoinToken({ hostName: "host-c" })).secret;
      const c = await join(joinC, "host-c");
      const linkA = new HttpLink(server.url, a.token, caPem);
      assert.equal((await linkA.desired()).hostId, a.hostId);

      // A console session for host-a: host-c's agent cannot take it; host-a's can, over https.
      const [client] = duplexPair();
      const sessionId = controller.consoles.open(a.hostId, "web", client, "operator-token");
      const linkC = new HttpLink(server.url, c.token, caPem);
      assert.deepEqual((await linkC.desired()).consoles, []);
      await assert.rejects(linkC.openConsole(sessionId), (e: unknown) =>
        isEtherplaneError(e, "NOT_FOUND"),
      );
      assert.equal((await linkA.desired()).consoles[0]?.sessionId, sessionId);
      const socket = await linkA.openConsole(sessionId);
      socket.destroy();
    } finally {
      await started.stop();
    }
  });
});

describe("console client errors", () => {
  test("a FAKE controller's 500 INTERNAL is parsed, not cast: exit code 1, not 0", async () => {
    const fake = http.createServer((_request, response) => {
      response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { code: "INTERNAL", message: "internal error" } }));
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    const { port } = fake.address() as { port: number };
    try {
      for (const code of ["INTERNAL", "SOMETHING_NEW"]) {
        fake.removeAllListeners("request");
        fake.on("request", (_request: http.IncomingMessage, response: http.ServerResponse) => {
          response.writeHead(500, { "content-type": "application/json" });
          response.end(JSON.stringify({ error: { code, message: "boom" } }));
        });
        const error = await upgradeToConsole(
          new URL(`http://127.0.0.1:${port}/api/v1/domains/web/console`),
          "ept_x",
        ).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(isEtherplaneError(error), String(error));
        assert.notEqual(exitCodeFor(error), 0, `${code}: a failure exits non-zero`);
      }
    } finally {
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });
});
