import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isEtherplaneError } from "../foundation/errors.js";
import { runCli, spawnCli } from "../../test/lab/cli-process.js";
import { takeLogFormat } from "./log-format.js";

void test("--log-format is taken out of the arguments and wins over the environment", () => {
  const env = { ETHERPLANE_LOG_FORMAT: "text" };
  assert.deepEqual(takeLogFormat(["--log-format", "json", "controller", "--listen", "x"], env), {
    argv: ["controller", "--listen", "x"],
    format: "json",
  });
  assert.deepEqual(takeLogFormat(["aoe", "serve", "--log-format=json"], {}), {
    argv: ["aoe", "serve"],
    format: "json",
  });
  assert.deepEqual(takeLogFormat(["agent"], { ETHERPLANE_LOG_FORMAT: "json" }), {
    argv: ["agent"],
    format: "json",
  });
  assert.deepEqual(takeLogFormat(["agent"], {}), { argv: ["agent"], format: "text" });
  // After `--` everything is the command's own.
  assert.deepEqual(takeLogFormat(["x", "--", "--log-format", "json"], {}), {
    argv: ["x", "--", "--log-format", "json"],
    format: "text",
  });
});

void test("a bad or missing format is refused, naming the flag or the variable", () => {
  for (const [argv, env, source] of [
    [["--log-format", "xml", "agent"], {}, "--log-format"],
    [["agent", "--log-format"], {}, "--log-format"],
    [["agent"], { ETHERPLANE_LOG_FORMAT: "yaml" }, "ETHERPLANE_LOG_FORMAT"],
  ] as const) {
    assert.throws(
      () => takeLogFormat(argv, env),
      (e) =>
        isEtherplaneError(e, "INVALID_ARGUMENT") &&
        e.message.startsWith(`${source}: `) &&
        /use text or json/.test(e.message),
    );
  }
});

void test("the controller as a process writes JSON lines with --log-format json", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ep-logfmt-"));
  try {
    const child = spawnCli([
      "--log-format",
      "json",
      "controller",
      "--data-dir",
      dir,
      "--listen",
      "127.0.0.1:0",
    ]);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const deadline = Date.now() + 120_000;
    while (!/controller listening at/.test(stdout)) {
      assert.equal(child.exitCode, null, `controller exited: ${stderr}`);
      assert.ok(Date.now() < deadline, `controller did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGTERM");
    assert.equal(await exited, 0, stderr);
    const records = stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const stopping = records.find((r) => r["message"] === "SIGTERM: stopping");
    assert.ok(stopping, stderr);
    assert.equal(stopping["level"], "info");
    assert.equal(typeof stopping["namespace"], "string");
    assert.match(String(stopping["time"]), /^\d{4}-\d\d-\d\dT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test("a bad format stops the command before it runs, exit 2 with the fix", async () => {
  const result = await runCli(["controller", "--help"], {
    env: { ETHERPLANE_LOG_FORMAT: "xml" },
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /ETHERPLANE_LOG_FORMAT: "xml" is not a log format; use text or json/);
});
