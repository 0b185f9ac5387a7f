import assert from "node:assert/strict";
import { test } from "node:test";
import { EtherplaneError, errorFields, errorMessage } from "./errors.js";

void test("log fields of an error keep its code and its cause", () => {
  const cause = Object.assign(new Error("ENOENT: no such file, open '/x'"), { code: "ENOENT" });
  const error = new EtherplaneError("IO_ERROR", "cannot read /x", { cause });
  assert.deepEqual(errorFields(error), {
    error: "cannot read /x",
    code: "IO_ERROR",
    cause: "ENOENT: no such file, open '/x'",
  });
  assert.deepEqual(errorFields(cause), { error: cause.message, code: "ENOENT" });
});

void test("anything else thrown is its text alone", () => {
  assert.deepEqual(errorFields("just a string"), { error: "just a string" });
  assert.deepEqual(errorFields(new Error("plain")), { error: "plain" });
  assert.deepEqual(errorFields(new Error("outer", { cause: 42 })), { error: "outer", cause: "42" });
  assert.equal(errorMessage(undefined), "undefined");
});
