import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import type { GuestSpec } from "../driver.js";
import { validateGuestSpec } from "./spec-validation.js";

const good: GuestSpec = {
  name: "noc.grid-1",
  uuid: "6a1c4a36-0d7e-4b59-9d5c-6d0d3c1e2f3a",
  memoryMiB: 256,
  vcpus: 1,
  boot: { kind: "kernel", kernel: "/boot/vmlinuz", cmdline: "root=/dev/sda1" },
  disks: [{ vdev: "sda1", source: { kind: "path", path: "/dev/etherd/e1.1" }, readOnly: false }],
  vifs: [{ mac: "00:16:3e:12:34:56", bridge: "xenbr0" }],
};

void test("accepts a well-formed spec", () => {
  validateGuestSpec(good);
});

void test("names the field of each bad value", () => {
  const cases: Array<[string, Partial<GuestSpec>]> = [
    ["name", { name: "" }],
    ["name", { name: "-rf" }],
    ["name", { name: "a,b" }],
    ["name", { name: "a/b" }],
    ["name", { name: "x".repeat(65) }],
    ["uuid", { uuid: "not-a-uuid" }],
    ["memoryMiB", { memoryMiB: 8 }],
    ["memoryMiB", { memoryMiB: 256.5 }],
    ["vcpus", { vcpus: 0 }],
    ["vcpus", { vcpus: 65 }],
    ["boot.kernel", { boot: { kind: "kernel", kernel: "vmlinuz", cmdline: "" } }],
    ["boot.cmdline", { boot: { kind: "kernel", kernel: "/k", cmdline: "a\nb" } }],
    ["boot", { boot: { kind: "firmware" }, disks: [] }],
    [
      "disks[0].vdev",
      { disks: [{ vdev: "sda,1", source: { kind: "path", path: "/x" }, readOnly: false }] },
    ],
    ["disks[1].vdev", { disks: [good.disks[0]!, good.disks[0]!] }],
    [
      "disks[0].source.path",
      { disks: [{ vdev: "sda", source: { kind: "path", path: "x" }, readOnly: false }] },
    ],
    [
      "disks[0].source.socketPath",
      {
        disks: [
          {
            vdev: "sda",
            source: { kind: "nbd", socketPath: "/" + "s".repeat(120) },
            readOnly: false,
          },
        ],
      },
    ],
    ["vifs[0].mac", { vifs: [{ mac: "01:16:3e:12:34:56", bridge: "xenbr0" }] }],
    ["vifs[0].mac", { vifs: [{ mac: "00:16:3E:12:34:56", bridge: "xenbr0" }] }],
    ["vifs[0].bridge", { vifs: [{ mac: "00:16:3e:12:34:56", bridge: "a-very-long-bridge" }] }],
    ["vifs[0].bridge", { vifs: [{ mac: "00:16:3e:12:34:56", bridge: "../x" }] }],
  ];
  for (const [field, change] of cases) {
    assert.throws(
      () => validateGuestSpec({ ...good, ...change }),
      (error: unknown) =>
        isEtherplaneError(error, "INVALID_ARGUMENT") && error.params["field"] === field,
      `${field}: ${JSON.stringify(change)}`,
    );
  }
});
