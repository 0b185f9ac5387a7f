import assert from "node:assert/strict";
import { test } from "node:test";
import { parseProcStat } from "./proc-stat.js";

void test("reads state and cpu ticks, even with ')' and spaces in the command name", () => {
  // A QEMU vCPU thread (debug-threads=on names it "CPU 0/TCG"), from /proc/<pid>/task/<tid>/stat.
  const vcpu =
    "7712 (CPU 0/TCG) S 1 7711 7711 0 -1 4194624 1187 0 0 0 412 37 0 0 20 0 4 0 51734 0 0 18446744073709551615 0 0 0 0 0 0 0 4096 0 0 0 0 -1 1 0 0 0 0 0 0 0 0 0 0 0 0 0";
  assert.deepEqual(parseProcStat(vcpu), { state: "S", cpuTicks: 449 });
  const tricky = "42 (a) b) R 1 2 3 4 5 6 7 8 9 10 100 200 0 0";
  assert.deepEqual(parseProcStat(tricky), { state: "R", cpuTicks: 300 });
});

void test("refuses what is not a stat line", () => {
  for (const text of [
    "",
    "no parens at all",
    "1 (x)",
    "1 (x) RR 1 2 3 4 5 6 7 8 9 10 1 2",
    "1 (x) R 1 2 3 4 5 6 7 8 9 10 a b",
  ]) {
    assert.equal(parseProcStat(text), undefined, text);
  }
});
