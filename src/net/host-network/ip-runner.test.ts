/** The real runner's edges, with real processes standing in for a missing or stuck `ip`. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { createIpRunner } from "./ip-runner.js";

describe("createIpRunner", () => {
  test("runs ip and returns its output, exit code and stderr", async () => {
    const ok = await createIpRunner()(["-V"]);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /iproute2/);
    const bad = await createIpRunner()(["link", "show", "dev", "ep-no-such-if"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /ep-no-such-if/);
  });

  test("a missing ip binary is UNAVAILABLE, saying what to install", async () => {
    await assert.rejects(
      createIpRunner({ ipPath: "/nonexistent/ip" })(["-V"]),
      (error) =>
        isEtherplaneError(error, "UNAVAILABLE") && /apt-get install iproute2/.test(error.message),
    );
  });

  test("a stuck command is killed and reported as TIMEOUT", async () => {
    await assert.rejects(
      createIpRunner({ ipPath: "sleep", timeoutMs: 200 })(["600"]),
      (error) =>
        isEtherplaneError(error, "TIMEOUT") && /did not finish in 200 ms/.test(error.message),
    );
  });

  test("refuses bad options", () => {
    assert.throws(() => createIpRunner({ netns: "../x" }), /not a namespace name/);
    assert.throws(() => createIpRunner({ timeoutMs: 0 }), /timeoutMs/);
  });
});
