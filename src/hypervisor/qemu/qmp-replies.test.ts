import assert from "node:assert/strict";
import { test } from "node:test";
import { runStatusOf, vcpuThreadIdsOf } from "./qmp-replies.js";

void test("query-status: the status string, or undefined for a reply shaped otherwise", () => {
  assert.equal(runStatusOf({ running: true, singlestep: false, status: "running" }), "running");
  assert.equal(runStatusOf({ status: "guest-panicked" }), "guest-panicked");
  assert.equal(runStatusOf({ status: 7 }), undefined);
  assert.equal(runStatusOf(null), undefined);
  assert.equal(runStatusOf("running"), undefined);
});

void test("query-cpus-fast: vCPU thread ids, malformed entries left out", () => {
  const reply = [
    { "cpu-index": 0, "thread-id": 4242, target: "x86_64" },
    { "cpu-index": 1, "thread-id": 4243, target: "x86_64" },
  ];
  assert.deepEqual(vcpuThreadIdsOf(reply), [4242, 4243]);
  assert.deepEqual(
    vcpuThreadIdsOf([
      { "thread-id": 0 },
      { "thread-id": -3 },
      { "thread-id": "7" },
      null,
      1.5,
      { "thread-id": 9 },
    ]),
    [9],
  );
  assert.deepEqual(vcpuThreadIdsOf({ "thread-id": 9 }), []);
  assert.deepEqual(vcpuThreadIdsOf(undefined), []);
});
