import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { failed, ok, xlFixture } from "./testing/fake-xl-runner.js";
import { errorLines, xlFailure } from "./xl-errors.js";

/** The code and message xlFailure gives a captured stderr. */
function classify(stderr: string, subject: string, code = 3) {
  const error = xlFailure(["xl", "create", "-q", "/x.cfg"], failed(code, stderr), subject);
  return { code: error.code, message: error.message };
}

describe("xl's failures, as Xen 4.17.7 prints them", () => {
  test("a name in use is CONFLICT", () => {
    const { code, message } = classify(xlFixture("xl-create-name-taken.stderr.txt"), "ep-run");
    assert.equal(code, "CONFLICT");
    assert.match(message, /^a guest named ep-run already exists on this host: libxl: error:/);
  });

  test("a missing bridge, disk or memory is UNAVAILABLE, naming it", () => {
    const bridge = classify(xlFixture("xl-create-no-bridge.stderr.txt"), "ep-nobridge");
    assert.equal(bridge.code, "UNAVAILABLE");
    assert.match(bridge.message, /^the bridge nosuchbr0 does not exist on this host/);
    const disk = classify(xlFixture("xl-create-no-disk.stderr.txt"), "ep-nodisk");
    assert.equal(disk.code, "UNAVAILABLE");
    assert.match(disk.message, /^disk xvda: \/dev\/etherd\/e9\.9 does not exist on this host/);
    const memory = classify(xlFixture("xl-create-no-memory.stderr.txt"), "ep-big");
    assert.equal(memory.code, "UNAVAILABLE");
    assert.match(memory.message, /^not enough free memory on this host/);
  });

  test("an unknown name is NOT_FOUND for every command, and under script", () => {
    for (const name of [
      "xl-list-v-unknown.stderr.txt",
      "xl-shutdown-unknown.stderr.txt",
      "xl-destroy-unknown.stderr.txt",
      "xl-console-unknown.stderr.txt",
    ]) {
      const { code, message } = classify(xlFixture(name), "nosuch", 1);
      assert.equal(code, "NOT_FOUND", name);
      assert.equal(
        message,
        "no guest nosuch on this host: nosuch is an invalid domain identifier (rc=-6)",
      );
    }
    const underScript = xlFailure(
      ["script"],
      { code: 1, stdout: xlFixture("xl-console-script-unknown.txt"), stderr: "" },
      "nosuch",
    );
    assert.equal(underScript.code, "NOT_FOUND");
  });

  test("a guest that does not answer a shutdown request is REFUSED", () => {
    const stderr =
      "Shutting down domain 3\n" +
      "libxl: error: libxl_domain.c:854:pvcontrol_cb: guest didn't acknowledge control request: -9\n" +
      "shutdown failed (rc=-9)\n";
    const { code, message } = classify(stderr, "g-sd", 1);
    assert.equal(code, "REFUSED");
    assert.match(message, /^guest g-sd did not answer the request/);
  });

  test("anything else is IO_ERROR with xl's error lines and the command", () => {
    const error = xlFailure(["xl", "info"], failed(1, "libxl_physinfo failed.\n"), "this host");
    assert.equal(error.code, "IO_ERROR");
    assert.equal(error.message, "xl info failed (exit 1): libxl_physinfo failed.");
    assert.deepEqual(error.params, { argv: ["xl", "info"], exitCode: 1, subject: "this host" });
  });

  test("error lines are chosen and bounded", () => {
    assert.equal(errorLines(ok()), "(no output, exit 0)");
    assert.equal(
      errorLines(failed(1, "Parsing config\nlibxl: error: x failed\n")),
      "libxl: error: x failed",
    );
    assert.ok(errorLines(failed(1, "error ".repeat(1000))).length <= 1503);
  });
});
