/** The guest "ep-run" of the captured xl output (test/fixtures/xl/guests/), its disk an AoE volume. */
import type { GuestSpec } from "../../driver.js";

export const RUN_SPEC: GuestSpec = {
  ...{ name: "ep-run", uuid: "6f1c2a40-5b7e-4c1d-9a2e-000000000001", memoryMiB: 128, vcpus: 1 },
  boot: { kind: "kernel", kernel: "/boot/vmlinuz", cmdline: "console=hvc0" },
  disks: [{ vdev: "xvda", source: { kind: "path", path: "/dev/etherd/e1.0" }, readOnly: false }],
  vifs: [{ mac: "00:16:3e:e0:00:01", bridge: "xenbr0" }],
};
