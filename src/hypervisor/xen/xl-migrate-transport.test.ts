/**
 * The `xl migrate -s` helper as xl runs it: a real process (`sh -c "exec node helper SOCKET xl
 * migrate-receive"`, as create_migration_child does) joined to a real Unix socket.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { parseTransportArgs } from "./xl-migrate-transport.js";

/** The reason the arguments are refused (fails when they are accepted). */
function refusal(args: string[]): string {
  const parsed = parseTransportArgs(args);
  assert.equal(typeof parsed, "string", `accepted: ${args.join(" ")}`);
  return parsed as string;
}

const HELPER = fileURLToPath(new URL("./xl-migrate-transport.js", import.meta.url));

/** Runs the helper as xl would; resolves with its exit code, stdout and stderr. */
function runHelper(socketPath: string, input: Buffer | null, extra = "xl migrate-receive") {
  const child = spawn("sh", [
    "-c",
    `exec '${process.execPath}' '${HELPER}' ${socketPath} ${extra}`,
  ]);
  const out: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  if (input !== null) child.stdin.end(input);
  const exited = new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr })),
  );
  return { child, exited };
}

describe("xl-migrate-transport", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ep-xl-transport-"));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("arguments: a socket path, then xl's migrate-receive command", () => {
    assert.deepEqual(parseTransportArgs(["/run/x.sock", "xl", "migrate-receive", "-e"]), {
      socketPath: "/run/x.sock",
    });
    assert.match(refusal([]), /usage/);
    assert.match(refusal(["x.sock", "xl", "migrate-receive"]), /absolute/);
    assert.match(refusal([`/${"a".repeat(120)}`, "xl", "migrate-receive"]), /at most 107 bytes/);
    assert.match(refusal(["/x.sock", "xl", "destroy", "1"]), /not xl migrate-receive/);
  });

  test("relays both ways; each direction ends on its own and the tail still flows", async () => {
    const path = join(dir, "relay.sock");
    const sent = Buffer.alloc(3 * 1024 * 1024 + 17, 0xa5); // more than any pipe buffer
    const received: Buffer[] = [];
    let accept: (socket: Socket) => void = () => undefined;
    const accepted = new Promise<Socket>((resolve) => (accept = resolve));
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      server.close();
      accept(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, resolve);
    });
    const { exited } = runHelper(path, sent);
    const socket = await accepted;
    socket.write("xl migration receiver ready, send binary domain data.\n");
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    // xl's input ended (stdin closed): the socket sees the end, and may still answer after it.
    await new Promise((resolve) => socket.once("end", resolve));
    socket.end("my copy unpause results are as follows\0\0");
    const result = await exited;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Buffer.concat(received).equals(sent), "every byte from xl reached the socket");
    assert.equal(
      result.stdout.toString("latin1"),
      "xl migration receiver ready, send binary domain data.\nmy copy unpause results are as follows\0\0",
    );
  });

  test("no listener: exit 1 with the reason on stderr (xl prints it with the command)", async () => {
    const { exited } = runHelper(join(dir, "nobody.sock"), Buffer.from("x"));
    const result = await exited;
    assert.equal(result.code, 1);
    assert.match(result.stderr, /nobody\.sock: connect ENOENT/);
    assert.equal(result.stdout.length, 0);
  });

  test("not xl's receive command: exit 2, nothing connected", async () => {
    const { exited } = runHelper(join(dir, "any.sock"), null, "xl destroy 1");
    const result = await exited;
    assert.equal(result.code, 2);
    assert.match(result.stderr, /not xl migrate-receive/);
  });
});
