import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../foundation/errors.js";
import { domainFile } from "./domain-file.js";
import { parseFacts, INSPECT_SCRIPT } from "./inspect.js";
import { planP2v } from "./plan.js";
import { inspectedOutput } from "./testing/inspected.js";
import { parseXlConfig } from "../domain/xl-cfg/index.js";

/** What INSPECT_SCRIPT prints on a small Debian server (GNU df, sysvinit). */
const inspected = inspectedOutput();

test("the inspection script prints every section parseFacts reads", () => {
  for (const s of [
    "mounts",
    "df",
    "kernel",
    "hostname",
    "memory",
    "cpus",
    "init",
    "route",
    "boot",
    "vlan",
    "tools",
    "end",
  ])
    assert.match(INSPECT_SCRIPT, new RegExp(`echo @@${s}`));
});

test("facts and plan: used bytes of the copied file systems, a margin, memory and CPUs of the source", () => {
  const facts = parseFacts(inspected);
  assert.equal(facts.hostname, "noc");
  assert.equal(facts.init, "sysvinit");
  assert.equal(facts.gnuTar, true);
  assert.equal(facts.hasRsync, true);
  assert.equal(facts.primaryInterface, "enp3s0");
  assert.equal(facts.memoryBytes, 2031616 * 1024);
  const plan = planP2v(facts, { name: "noc", hypervisor: "qemu" });
  assert.equal(plan.usedBytes, (1048576 + 524288) * 1024);
  assert.ok(plan.sizeBytes >= plan.usedBytes * 1.2 && plan.sizeBytes % (64 * 1024 ** 2) === 0);
  assert.equal(plan.memoryMiB, 1984);
  assert.equal(plan.vcpus, 2);
  assert.equal(plan.consoleTty, "ttyS0");
  assert.deepEqual(plan.kernel, {
    kernel: "/boot/vmlinuz-6.1.0-18-amd64",
    initrd: "/boot/initrd.img-6.1.0-18-amd64",
    version: "6.1.0-18-amd64",
  });
  assert.deepEqual(
    plan.copy.map((m) => m.mountPoint),
    ["/", "/home"],
  );
});

test("a --size below the used bytes plus a margin is refused before anything is made", () => {
  const facts = parseFacts(inspected);
  assert.throws(
    () => planP2v(facts, { name: "noc", hypervisor: "qemu", sizeBytes: 1024 ** 3 }),
    (e) =>
      isEtherplaneError(e, "OUT_OF_RANGE") &&
      /nothing was created/.test(e.message) &&
      /--size \d+M/.test(e.message),
  );
  const ok = planP2v(facts, {
    name: "noc",
    hypervisor: "xen",
    sizeBytes: 2 * 1024 ** 3,
    memoryMiB: 256,
    vcpus: 1,
  });
  assert.equal(ok.sizeBytes, 2 * 1024 ** 3);
  assert.equal(ok.consoleTty, "hvc0");
  assert.equal(ok.memoryMiB, 256);
});

test("the domain file: the volume as phy:/dev/etherd/eS.L, a vif, the source's kernel; xl reads it back", () => {
  const plan = planP2v(parseFacts(inspected), {
    name: "noc",
    hypervisor: "qemu",
    network: "xenbr0",
  });
  const text = domainFile({
    plan,
    address: { shelf: 3, slot: 7 },
    boot: { kernel: "p2v-noc-vmlinuz", ramdisk: "p2v-noc-initrd" },
    hypervisor: "qemu",
  });
  const config = parseXlConfig(text, "noc.cfg");
  const get = (k: string) => config.settings.find((s) => s.key === k)?.value;
  assert.equal(get("name"), "noc");
  assert.equal(get("memory"), 1984);
  assert.deepEqual(get("disk"), ["phy:/dev/etherd/e3.7,xvda,w"]);
  assert.deepEqual(get("vif"), ["bridge=xenbr0"]);
  assert.equal(get("kernel"), "p2v-noc-vmlinuz");
  assert.equal(get("extra"), "console=ttyS0 net.ifnames=0");
  const xen = domainFile({ plan, address: undefined, boot: undefined, hypervisor: "xen" });
  assert.match(xen, /bootloader = "pygrub"/);
  assert.match(xen, /eS\.L/);
});

test("an inspection cut short is refused", () => {
  assert.throws(
    () => parseFacts("@@mounts\n/dev/sda1 / ext4 rw 0 0\n"),
    (e) => isEtherplaneError(e, "PROTOCOL"),
  );
});
