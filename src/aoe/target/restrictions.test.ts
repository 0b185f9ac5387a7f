import assert from "node:assert/strict";
import { test } from "node:test";
import { describeRestriction, describeRestrictions } from "./restrictions.js";

test("a masked and reserved export is described with its list length, entries and holders", () => {
  assert.equal(
    describeRestriction({
      address: "1.0",
      macMask: ["02:00:00:00:00:01", "02:00:00:00:00:02"],
      reservation: ["02:00:00:00:00:01"],
    }),
    "e1.0: MAC mask list (2 entries: 02:00:00:00:00:01, 02:00:00:00:00:02): no other initiator sees it; " +
      "reserved by 02:00:00:00:00:01: others get AoE error 6 (target reserved) on I/O",
  );
  assert.match(
    describeRestriction({ address: "1.1", macMask: ["02:00:00:00:00:01"], reservation: [] }) ?? "",
    /^e1\.1: MAC mask list \(1 entry: 02:00:00:00:00:01\)/,
  );
});

test("open exports are not listed; with none restricted one line says so", () => {
  assert.equal(describeRestriction({ address: "1.0", macMask: [], reservation: [] }), undefined);
  // stats.json from an older target has no lists at all.
  assert.equal(describeRestriction({ address: "1.0" }), undefined);
  assert.deepEqual(describeRestrictions([{ address: "1.0" }, { address: "1.1" }]), [
    "no export is restricted (no MAC mask list, no reservation on 2 export(s))",
  ]);
  assert.deepEqual(
    describeRestrictions([
      { address: "1.0" },
      { address: "1.1", macMask: [], reservation: ["02:00:00:00:00:09"] },
    ]).length,
    1,
  );
});
