import assert from "node:assert/strict";
import { test } from "node:test";
import { EtherplaneError } from "./errors.js";
import { formatJsonRecord, formatRecord, logSink, parseLogFormat, type LogRecord } from "./log.js";

const record: LogRecord = {
  timeMs: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
  level: "warn",
  namespace: "aoe:target",
  message: 'export "e1.0" stopped',
  fields: { shelf: 1, reason: "a\nb", message: "a field named like a key" },
};

void test("a JSON record is one line: time, level, namespace, message, then the fields", () => {
  const line = formatJsonRecord(record);
  assert.ok(!line.includes("\n"), line);
  assert.deepEqual(JSON.parse(line), {
    time: "2026-01-02T03:04:05.678Z",
    level: "warn",
    namespace: "aoe:target",
    message: 'export "e1.0" stopped',
    shelf: 1,
    reason: "a\nb",
    "field.message": "a field named like a key",
  });
});

void test("fields JSON cannot hold are written as text, never thrown", () => {
  const cycle: Record<string, unknown> = {};
  cycle["self"] = cycle;
  const line = formatJsonRecord({
    ...record,
    fields: {
      big: 2n ** 70n,
      error: new EtherplaneError("IO_ERROR", "disk gone"),
      mac: Buffer.from([0, 0x16, 0x3e, 1, 2, 3]),
      cycle,
    },
  });
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.equal(parsed["big"], "1180591620717411303424");
  assert.equal(parsed["error"], "disk gone");
  assert.equal(parsed["mac"], "00163e010203");
  assert.equal(parsed["cycle"], "[object Object]");
  assert.equal(parsed["message"], record.message);
});

void test("a sink writes one line per record in its format", () => {
  const lines: string[] = [];
  logSink("json", (line) => lines.push(line))(record);
  logSink("text", (line) => lines.push(line))(record);
  assert.equal(lines.length, 2);
  assert.equal(lines[0], formatJsonRecord(record) + "\n");
  assert.equal(lines[1], formatRecord(record) + "\n");
  assert.match(lines[1] ?? "", /^2026-01-02T03:04:05.678Z WARN aoe:target: export/);
});

void test("a log format is text or json; anything else says where it came from and what to use", () => {
  assert.equal(parseLogFormat("json", "--log-format"), "json");
  assert.equal(parseLogFormat("text", "--log-format"), "text");
  assert.throws(
    () => parseLogFormat("JSON", "ETHERPLANE_LOG_FORMAT"),
    (e) =>
      e instanceof EtherplaneError &&
      e.code === "INVALID_ARGUMENT" &&
      e.message === 'ETHERPLANE_LOG_FORMAT: "JSON" is not a log format; use text or json',
  );
});
