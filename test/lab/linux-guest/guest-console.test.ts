import assert from "node:assert/strict";
import { test } from "node:test";
import { GuestConsole } from "./guest-console.js";

void test("picks script lines, stages and the exit code out of a serial console", () => {
  const guest = new GuestConsole(1000);
  // The serial line ends lines with \r\n and chunks split lines anywhere.
  guest.push("[    0.1] Linux version 6.1\r\n@@! INIT 5.93\r\n@@ md5 ab", 2000);
  guest.push("c123\r\n@@! READY 6.40 e1.0 131072 sectors\r\n@@ EXIT 3\r\n", 2500);
  guest.push("@@! EXIT 0\r\n@@ no newline", 3000);
  guest.end(3100);
  assert.deepEqual(guest.lines, ["md5 abc123", "EXIT 3", "no newline"]);
  assert.equal(guest.exitCode, 0);
  assert.equal(guest.failure, undefined);
  assert.deepEqual(guest.stage("READY"), {
    name: "READY",
    uptimeS: 6.4,
    detail: "e1.0 131072 sectors",
    hostMs: 1500,
  });
  assert.equal(guest.stage("INIT")?.hostMs, 1000);
  assert.match(guest.tail(2), /^@@! EXIT 0\n@@ no newline$/);
});

void test("keeps the first setup failure", () => {
  const guest = new GuestConsole(0);
  guest.push("@@! FAIL timed out waiting for AoE disk e1.0\n@@! FAIL later\n@@! EXIT 125\n", 1);
  assert.equal(guest.failure, "timed out waiting for AoE disk e1.0");
  assert.equal(guest.exitCode, 125);
});

void test("ignores malformed control lines and bounds the kept text", () => {
  const guest = new GuestConsole(0);
  guest.push("@@! EXIT x\n@@! lower 1.0\n@@! STAGE notanumber\n", 1);
  assert.equal(guest.exitCode, undefined);
  assert.deepEqual(guest.stages, []);
  guest.push("x".repeat(5 * 1024 * 1024) + "\n", 2);
  assert.match(guest.console, /^\[\d+ characters dropped\]\n/);
});
