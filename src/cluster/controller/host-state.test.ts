import assert from "node:assert/strict";
import { test } from "node:test";
import type { HostState } from "../model.js";
import { hostState } from "./host-state.js";

test("lease trouble shows before maintenance; maintenance before up", () => {
  const maintenance = { sinceMs: 1, by: "admin", taskId: null, stoppedDomainIds: [] };
  const cases: Array<[HostState, boolean, HostState]> = [
    ["up", false, "up"],
    ["up", true, "maintenance"],
    ["suspect", false, "suspect"],
    ["suspect", true, "suspect"],
    ["dead", true, "dead"],
    ["fenced", true, "fenced"],
    ["fenced", false, "fenced"],
  ];
  for (const [lease, inMaintenance, expected] of cases)
    assert.equal(
      hostState(lease, inMaintenance ? maintenance : null),
      expected,
      `${lease}${inMaintenance ? " in maintenance" : ""}`,
    );
});
