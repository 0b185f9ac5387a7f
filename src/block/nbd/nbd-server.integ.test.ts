/**
 * The NBD server's lifecycle over a real Unix socket: close() with requests in flight, and the
 * socket file it replaces (a stale one) or refuses to touch (a live server's, a regular file).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { RawClient } from "./testing/raw-client.js";
import { serve, serveFails, until } from "./testing/served-device.js";

void describe("NBD server lifecycle, with a raw client", { timeout: 60_000 }, () => {
  void it("close() finishes in-flight requests, then hangs up and removes the socket", async () => {
    const served = await serve();
    const client = await RawClient.connect(served.socketPath);
    try {
      await client.go();
      served.probe.delayMs = () => 200;
      for (const handle of [1n, 2n, 3n])
        client.request({ handle, offset: handle * 512n, length: 512 });
      await until(() => served.probe.active === 3, "three requests in flight");
      const closing = served.server.close();
      const handles = [];
      for (let i = 0; i < 3; i++) {
        const reply = await client.reply(() => 512);
        assert.equal(reply.error, 0);
        handles.push(reply.handle);
      }
      assert.deepEqual(handles.sort(), [1n, 2n, 3n]);
      await client.expectClosed();
      await closing;
      await assert.rejects(fs.lstat(served.socketPath), { code: "ENOENT" });
      await assert.rejects(RawClient.connect(served.socketPath));
    } finally {
      client.destroy();
      await served.close();
    }
  });

  void it("replaces a stale socket file but nothing else", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ep-nbd-"));
    try {
      // A socket file nobody listens on: Node unlinks its socket on close, so move it first.
      const stale = path.join(dir, "stale.sock");
      const old = net.createServer();
      await new Promise<void>((resolve) => old.listen(path.join(dir, "old.sock"), resolve));
      await fs.rename(path.join(dir, "old.sock"), stale);
      await new Promise<void>((resolve) => old.close(() => resolve()));
      assert.ok((await fs.lstat(stale)).isSocket());
      const served = await serve({ socketPath: stale });
      try {
        const client = await RawClient.connect(stale);
        await client.go();
        client.destroy();
        // A live server's socket is left alone.
        assert.ok(isEtherplaneError(await serveFails(stale), "REFUSED"));
      } finally {
        await served.close();
      }

      // A regular file is never removed.
      const file = path.join(dir, "not-a-socket");
      await fs.writeFile(file, "keep me");
      assert.ok(isEtherplaneError(await serveFails(file), "INVALID_ARGUMENT"));
      assert.equal(await fs.readFile(file, "utf8"), "keep me");
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
