import assert from "node:assert/strict";
import { test } from "node:test";
import {
  encodeQmpCommand,
  parseQmpLine,
  parseQmpTranscript,
  QmpLineDecoder,
  qmpLineBytesMax,
} from "./qmp-codec.js";

// Captured from Debian's QEMU 7.2.22 (qemu-system-x86_64, QMP over a Unix socket).
const greeting =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}';
const shutdownReset =
  '{"timestamp": {"seconds": 1795784484, "microseconds": 79812}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-reset"}}';
const stopEvent = '{"timestamp": {"seconds": 1795784484, "microseconds": 79906}, "event": "STOP"}';
const status = '{"return": {"status": "shutdown", "singlestep": false, "running": false}}';
const commandNotFound =
  '{"id": "ep-7", "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}';

void test("parses QEMU's greeting, replies, errors and events", () => {
  assert.deepEqual(parseQmpLine(greeting), {
    ok: true,
    message: {
      kind: "greeting",
      version: { major: 7, minor: 2, micro: 22 },
      package: "Debian 1:7.2+dfsg-7+deb12u18+b3",
      capabilities: ["oob"],
    },
  });
  assert.deepEqual(parseQmpLine(status), {
    ok: true,
    message: {
      kind: "return",
      id: undefined,
      value: { status: "shutdown", singlestep: false, running: false },
    },
  });
  assert.deepEqual(parseQmpLine('{"return": {}, "id": "ep-3"}'), {
    ok: true,
    message: { kind: "return", id: "ep-3", value: {} },
  });
  assert.deepEqual(parseQmpLine(commandNotFound), {
    ok: true,
    message: {
      kind: "error",
      id: "ep-7",
      errorClass: "CommandNotFound",
      description: "The command nope has not been found",
    },
  });
  assert.deepEqual(parseQmpLine(shutdownReset), {
    ok: true,
    message: {
      kind: "event",
      name: "SHUTDOWN",
      data: { guest: true, reason: "guest-reset" },
      timestampMs: 1795784484079,
    },
  });
  const stop = parseQmpLine(stopEvent);
  assert.ok(stop.ok && stop.message.kind === "event");
  assert.deepEqual(stop.message.data, {});
});

void test("refuses hostile or malformed lines with a reason", () => {
  const reasons = [
    "",
    "not json",
    "[1,2]",
    "null",
    '"text"',
    "{}",
    '{"QMP": {}}',
    '{"QMP": {"version": {"qemu": {"major": -1, "minor": 0, "micro": 0}}}}',
    '{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": [1]}}',
    '{"return": {}, "id": {"nested": true}}',
    '{"error": {"class": 3, "desc": "x"}}',
    '{"error": "boom"}',
    '{"event": "lower-case", "timestamp": {"seconds": 1, "microseconds": 0}}',
    '{"event": "STOP"}',
    '{"event": "STOP", "data": [1], "timestamp": {"seconds": 1, "microseconds": 0}}',
    `{"return": "${"x".repeat(qmpLineBytesMax)}"}`,
    `{"error": {"class": "${"C".repeat(70_000)}", "desc": "d"}}`,
  ].map((line) => parseQmpLine(line));
  for (const result of reasons) {
    assert.equal(result.ok, false, JSON.stringify(result).slice(0, 200));
    if (!result.ok) assert.ok(result.reason.length > 0);
  }
});

void test("an event with QEMU's failed-clock timestamp (-1) is kept with time 0", () => {
  const parsed = parseQmpLine(
    '{"event": "POWERDOWN", "timestamp": {"seconds": -1, "microseconds": -1}}',
  );
  assert.ok(parsed.ok && parsed.message.kind === "event");
  assert.equal(parsed.message.timestampMs, 0);
});

void test("encodes commands with arguments and ids; refuses bad names", () => {
  assert.equal(encodeQmpCommand("qmp_capabilities"), '{"execute":"qmp_capabilities"}\n');
  assert.equal(
    encodeQmpCommand("send-key", { keys: [{ type: "qcode", data: "ctrl" }] }, "ep-1"),
    '{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":"ctrl"}]},"id":"ep-1"}\n',
  );
  for (const bad of ["", "Quit", 'quit"}', "quit\n", "x".repeat(65)]) {
    assert.throws(() => encodeQmpCommand(bad), /bad QMP command name/);
  }
});

void test("the line decoder joins split chunks, strips CRLF and bounds a line", () => {
  const decoder = new QmpLineDecoder();
  const bytes = Buffer.from(`${greeting}\r\n${status}\r\n\r\n${stopEvent}`);
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 7) lines.push(...decoder.push(bytes.subarray(i, i + 7)));
  assert.deepEqual(lines, [greeting, status]);
  assert.deepEqual(decoder.push(Buffer.from("\n")), [stopEvent]);

  const flood = new QmpLineDecoder();
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  let out: string[] = [];
  for (let i = 0; i < 20 && flood.failure === undefined; i += 1) out = flood.push(chunk);
  assert.deepEqual(out, []);
  assert.match(flood.failure ?? "", /over/);
  assert.deepEqual(flood.push(Buffer.from("\n")), [], "a failed decoder stays failed");
});

void test("a journal tail that starts mid-line drops the partial line and skips junk", () => {
  const journal = `${greeting}\n{"return": {}}\n${shutdownReset}\n${stopEvent}\n`;
  const tail = journal.slice(10) + "garbage line\n";
  const messages = parseQmpTranscript(tail, true);
  assert.deepEqual(
    messages.map((m) => m.kind),
    ["return", "event", "event"],
  );
  assert.equal(parseQmpTranscript(journal, false).length, 4);
});
