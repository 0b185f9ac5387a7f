/**
 * The QMP client against a scripted peer on a real Unix socket (a stand-in for QEMU's monitor:
 * the lines are QEMU 7.2's own), for what real QEMU will not do on request: stay silent, send
 * garbage, answer out of order.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { QmpConnection, withQmp } from "./qmp-client.js";

const greeting =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}\r\n';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ep-qmp-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let serial = 0;
/** A peer that greets (unless told not to) and answers each command line with `answer`. */
async function peer(
  answer: (command: { execute: string; id?: string }, socket: Socket) => void,
  options: { greet?: string | null } = {},
): Promise<{ path: string; server: Server }> {
  const path = join(dir, `qmp-${serial++}.sock`);
  const server = createServer((socket) => {
    if (options.greet !== null) socket.write(options.greet ?? greeting);
    let buffered = "";
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        answer(JSON.parse(line) as { execute: string; id?: string }, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, server };
}

const ok = (command: { id?: string }, value: unknown = {}) =>
  JSON.stringify({ return: value, id: command.id }) + "\r\n";

void test("negotiates, skips events and foreign replies, returns the matching reply", async () => {
  const { path, server } = await peer((command, socket) => {
    if (command.execute === "query-status") {
      socket.write(
        '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}\r\n' +
          JSON.stringify({ return: { status: "old" }, id: "someone-else" }) +
          "\r\n" +
          ok(command, { status: "running", running: true }),
      );
    } else socket.write(ok(command));
  });
  try {
    const value = await withQmp(path, 2000, async (qmp) => {
      assert.deepEqual(qmp.version, { major: 7, minor: 2, micro: 22 });
      const status = await qmp.execute("query-status", undefined, 2000);
      assert.deepEqual(
        qmp.events.map((e) => e.name),
        ["RESUME"],
      );
      return status;
    });
    assert.deepEqual(value, { status: "running", running: true });
  } finally {
    server.close();
  }
});

void test("QEMU's error reply is REFUSED with its class and description", async () => {
  const { path, server } = await peer((command, socket) => {
    if (command.execute === "cont") {
      socket.write(
        JSON.stringify({
          id: command.id,
          error: { class: "GenericError", desc: "Resetting the Virtual Machine is required" },
        }) + "\r\n",
      );
    } else socket.write(ok(command));
  });
  try {
    await assert.rejects(
      withQmp(path, 2000, (qmp) => qmp.execute("cont", undefined, 2000)),
      (error: unknown) =>
        isEtherplaneError(error, "REFUSED") && /GenericError: Resetting/.test(error.message),
    );
  } finally {
    server.close();
  }
});

void test("a silent peer is a TIMEOUT; garbage is PROTOCOL; no socket is UNAVAILABLE", async () => {
  const silent = await peer(() => {}, { greet: null });
  const garbage = await peer(() => {}, { greet: "<html>hello</html>\r\n" });
  const mute = await peer(() => {}); // greets, never answers qmp_capabilities
  try {
    const started = Date.now();
    await assert.rejects(QmpConnection.open(silent.path, 200), (e: unknown) =>
      isEtherplaneError(e, "TIMEOUT"),
    );
    assert.ok(Date.now() - started < 2000, "bounded");
    await assert.rejects(QmpConnection.open(garbage.path, 2000), (e: unknown) =>
      isEtherplaneError(e, "PROTOCOL"),
    );
    await assert.rejects(QmpConnection.open(mute.path, 200), (e: unknown) =>
      isEtherplaneError(e, "TIMEOUT"),
    );
    await assert.rejects(QmpConnection.open(join(dir, "absent.sock"), 2000), (e: unknown) =>
      isEtherplaneError(e, "UNAVAILABLE"),
    );
  } finally {
    silent.server.close();
    garbage.server.close();
    mute.server.close();
  }
});

void test("a peer that closes mid-command fails the command instead of hanging", async () => {
  const { path, server } = await peer((command, socket) => {
    if (command.execute === "quit") socket.destroy();
    else socket.write(ok(command));
  });
  try {
    await assert.rejects(
      withQmp(path, 2000, (qmp) => qmp.execute("quit", undefined, 2000)),
      (e: unknown) => isEtherplaneError(e, "UNAVAILABLE"),
    );
  } finally {
    server.close();
  }
});
