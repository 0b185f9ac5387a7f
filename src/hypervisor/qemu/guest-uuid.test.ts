import assert from "node:assert/strict";
import { test } from "node:test";
import { uuidOfQueryUuid } from "./guest-uuid.js";

test("query-uuid replies: the uuid in lower case, anything else undefined", () => {
  // As QEMU 7.2 answers a guest started with -uuid (upper case input is echoed as given).
  assert.equal(
    uuidOfQueryUuid({ UUID: "6F1C2A40-5B7E-4C1D-9A2E-000000000001" }),
    "6f1c2a40-5b7e-4c1d-9a2e-000000000001",
  );
  assert.equal(
    uuidOfQueryUuid({ UUID: "00000000-0000-0000-0000-000000000000" }),
    "00000000-0000-0000-0000-000000000000",
  );
  for (const hostile of [null, undefined, "x", {}, { UUID: 5 }, { UUID: "not-a-uuid" }, []])
    assert.equal(uuidOfQueryUuid(hostile), undefined, JSON.stringify(hostile));
});
