import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../foundation/errors.js";
import { checkNetnsName, createCommandRunner, netnsArgv } from "./command-runner.js";

const run = createCommandRunner({ timeoutMsDefault: 10_000 });

async function rejects(promise: Promise<unknown>, code: ErrorCode, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

describe("the real command runner", () => {
  test("returns the exit status and both streams", async () => {
    const result = await run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert.deepEqual(result, { code: 3, stdout: "out\n", stderr: "err\n" });
  });

  test("writes the input to stdin and closes it", async () => {
    const result = await run(["cat"], { input: "line 1\nline 2\n" });
    assert.equal(result.stdout, "line 1\nline 2\n");
    assert.equal((await run(["cat"])).stdout, "", "no input: stdin closed at once");
  });

  test("a process killed by a signal reports 128 + the signal", async () => {
    assert.equal((await run(["sh", "-c", "kill -9 $$"])).code, 128 + 9);
  });

  test("a process past its timeout is killed: TIMEOUT", async () => {
    // A sleep far longer than any test: the call ends by the timeout, not by the sleep.
    const startMs = Date.now();
    await rejects(run(["sleep", "600"], { timeoutMs: 200 }), "TIMEOUT", /sleep 600 did not finish/);
    assert.ok(Date.now() - startMs < 300_000);
  });

  test("a missing binary is UNAVAILABLE, with the caller's hint or a general one", async () => {
    const xl = createCommandRunner({ missingHint: "install the Xen tools" });
    await rejects(
      xl(["/nonexistent/xl", "list"]),
      "UNAVAILABLE",
      /\/nonexistent\/xl not found: install the Xen tools/,
    );
    await rejects(run(["/nonexistent/ip"]), "UNAVAILABLE", /not found: install it, or give its/);
  });

  test("bad calls and options are refused before anything runs", async () => {
    await rejects(run([]), "INVALID_ARGUMENT", /empty command/);
    assert.throws(() => createCommandRunner({ timeoutMsDefault: 0 }), /timeoutMs 0 is outside/);
    assert.throws(() => createCommandRunner({ netns: "../x" }), /not a namespace name/);
    assert.throws(() => createCommandRunner({ netns: ".." }), /not a namespace name/);
    assert.throws(() => checkNetnsName("a b"), /not a namespace name/);
  });

  test("a namespace wraps the command in ip netns exec", () => {
    assert.deepEqual(netnsArgv(undefined, ["ip", "link"]), ["ip", "link"]);
    assert.deepEqual(netnsArgv("ep1", ["mkfifo", "x"]), [
      "ip",
      "netns",
      "exec",
      "ep1",
      "mkfifo",
      "x",
    ]);
  });

  test("output beyond the bound kills the process: IO_ERROR", async () => {
    const small = createCommandRunner({ outputBytesMax: 1000 });
    await rejects(small(["sh", "-c", "yes | head -c 100000"]), "IO_ERROR", /over 1000 bytes/);
  });

  test("a daemon child keeping the pipe open does not hold the call (like xl create's)", async () => {
    // The child outlives any test; the call returns after the grace, not at the child's end.
    const startMs = Date.now();
    const result = await run(["sh", "-c", "sleep 600 & echo $!; echo created"]);
    const [pid, created] = result.stdout.split("\n");
    process.kill(Number(pid), "SIGKILL");
    assert.equal(result.code, 0);
    assert.equal(created, "created");
    assert.ok(Date.now() - startMs < 300_000, `${Date.now() - startMs} ms`);
  });
});
