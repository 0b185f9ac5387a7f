import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import { spawnCommandRunner } from "./command-runner.js";

const run = spawnCommandRunner({ timeoutMsDefault: 10_000 });

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
    const startMs = Date.now();
    await rejects(run(["sleep", "5"], { timeoutMs: 200 }), "TIMEOUT", /sleep 5 did not finish/);
    assert.ok(Date.now() - startMs < 2000);
  });

  test("a missing binary is UNAVAILABLE", async () => {
    await rejects(run(["/nonexistent/xl", "list"]), "UNAVAILABLE", /\/nonexistent\/xl not found/);
  });

  test("output beyond the bound kills the process: IO_ERROR", async () => {
    const small = spawnCommandRunner({ outputBytesMax: 1000 });
    await rejects(small(["sh", "-c", "yes | head -c 100000"]), "IO_ERROR", /over 1000 bytes/);
  });

  test("a daemon child keeping the pipe open does not hold the call (like xl create's)", async () => {
    const startMs = Date.now();
    const result = await run(["sh", "-c", "sleep 3 & echo created"]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, "created\n");
    assert.ok(Date.now() - startMs < 2500, `${Date.now() - startMs} ms`);
  });
});
