import assert from "node:assert/strict";
import { test } from "node:test";
import { EtherplaneError } from "../../foundation/errors.js";
import { parseRequestTimeoutMs } from "./request-timeout-flag.js";

test("--request-timeout-ms: absent keeps the default, N is N ms, the bounds themselves are accepted", () => {
  assert.equal(parseRequestTimeoutMs("--request-timeout-ms", undefined, "usage"), undefined);
  assert.equal(parseRequestTimeoutMs("--request-timeout-ms", "4000", "usage"), 4000);
  assert.equal(parseRequestTimeoutMs("--request-timeout-ms", "1000", "usage"), 1000);
  assert.equal(parseRequestTimeoutMs("--request-timeout-ms", "600000", "usage"), 600_000);
});

test("--request-timeout-ms: out of bounds or not a whole number is a usage error naming the flag and the range", () => {
  for (const bad of ["0", "999", "600001", "-1", "2.5", "5s", "", "99999999999"]) {
    assert.throws(
      () => parseRequestTimeoutMs("--san-request-timeout-ms", bad, "usage"),
      (error: unknown) =>
        error instanceof EtherplaneError &&
        error.code === "INVALID_ARGUMENT" &&
        /--san-request-timeout-ms .*from 1000 to 600000/.test(error.message),
      bad,
    );
  }
});
