import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { SSE_LINE_CHARS_MAX, SseParser } from "./sse-parser.js";

test("messages split across chunks, comments skipped, data lines joined, CRLF read", () => {
  const p = new SseParser();
  assert.deepEqual(p.push('event: hello\ndata: {"topics"'), []);
  assert.deepEqual(p.push(":[]}\n\n: keepalive\n\nevent: change\r\ndata: a\r\ndata: b\r\n\r\n"), [
    { event: "hello", data: '{"topics":[]}' },
    { event: "change", data: "a\nb" },
  ]);
  assert.deepEqual(p.push("data: x\n\n"), [{ event: "message", data: "x" }]);
});

test("a line without end past the bound is refused", () => {
  const p = new SseParser();
  assert.throws(
    () => p.push("data: " + "x".repeat(SSE_LINE_CHARS_MAX)),
    (e: unknown) => isEtherplaneError(e, "PROTOCOL"),
  );
});
