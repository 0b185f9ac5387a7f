import assert from "node:assert/strict";
import { test } from "node:test";
import { readSkips } from "./check-skips.js";

void test("skips are split into by-design and unexpected, nested or not", () => {
  const tap = [
    "TAP version 13",
    "# Subtest: outer",
    "    ok 1 - runs # SKIP needs root (namespaces)",
    "    ok 2 - opt-in # SKIP by design: set EP_X to run it",
    "    ok 3 - a test that ran",
    "    not ok 4 - failed # TODO later",
    "ok 1 - outer",
    "ok 2 - bare # SKIP",
  ].join("\n");
  assert.deepEqual(readSkips(tap), {
    byDesign: 1,
    unexpected: ["runs: needs root (namespaces)", "bare: (no reason given)"],
  });
});

void test("a report without skips has nothing unexpected", () => {
  assert.deepEqual(readSkips("TAP version 13\nok 1 - a\nok 2 - b\n1..2\n"), {
    byDesign: 0,
    unexpected: [],
  });
});
