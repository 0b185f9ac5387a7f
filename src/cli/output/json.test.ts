import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { printJson } from "./json.js";

function capture(value: unknown): string {
  const output = new PassThrough();
  let text = "";
  output.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  printJson(value, output);
  return text;
}

test("printJson: indented JSON and a newline; undefined prints as null", () => {
  assert.equal(capture({ a: [1, "x"] }), '{\n  "a": [\n    1,\n    "x"\n  ]\n}\n');
  assert.equal(capture(undefined), "null\n");
});
