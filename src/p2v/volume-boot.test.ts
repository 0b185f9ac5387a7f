import assert from "node:assert/strict";
import { test } from "node:test";
import { domainFile } from "./domain-file.js";
import { EXTLINUX_CONF, extlinuxConfEdit } from "./volume-boot.js";

const plan = {
  name: "noc",
  consoleTty: "ttyS0" as const,
  kernel: {
    kernel: "/boot/vmlinuz-6.1.0-18-amd64",
    initrd: "/boot/initrd.img-6.1.0-18-amd64",
    version: "6.1.0-18-amd64",
  },
};

test("--boot volume: extlinux.conf boots the source's kernel and initrd, root by UUID, the console on serial", () => {
  const edit = extlinuxConfEdit(plan, "0b1c-uuid");
  assert.ok(edit && edit.kind === "write");
  assert.equal(edit.path, EXTLINUX_CONF);
  assert.match(edit.text, /^DEFAULT p2v$/m);
  assert.match(edit.text, /^SERIAL 0 115200$/m);
  assert.match(edit.text, /^ {2}KERNEL \/boot\/vmlinuz-6\.1\.0-18-amd64$/m);
  assert.match(edit.text, /^ {2}INITRD \/boot\/initrd\.img-6\.1\.0-18-amd64$/m);
  assert.match(edit.text, /^ {2}APPEND root=UUID=0b1c-uuid ro console=ttyS0 net\.ifnames=0$/m);
  assert.match(edit.change, /extlinux\.conf boots \/boot\/vmlinuz-6\.1\.0-18-amd64/);
  // Xen: hvc0, no serial line for extlinux (pygrub reads the file instead).
  const xen = extlinuxConfEdit({ ...plan, consoleTty: "hvc0" }, "u");
  assert.ok(
    xen && xen.kind === "write" && !/SERIAL/.test(xen.text) && /console=hvc0/.test(xen.text),
  );
  // No initrd: no INITRD line; no kernel: nothing to boot from the volume.
  const bare = extlinuxConfEdit({ ...plan, kernel: { ...plan.kernel, initrd: undefined } }, "u");
  assert.ok(bare && bare.kind === "write" && !/INITRD/.test(bare.text));
  assert.equal(extlinuxConfEdit({ ...plan, kernel: undefined }, "u"), undefined);
});

test("--boot volume: the domain file names no host file (firmware boot under qemu, pygrub under xen)", () => {
  const input = {
    plan: { ...plan, memoryMiB: 256, vcpus: 1, network: undefined },
    address: { shelf: 1, slot: 2 },
    boot: undefined,
  };
  const qemu = domainFile({ ...input, hypervisor: "qemu" });
  assert.doesNotMatch(qemu, /kernel|ramdisk|bootloader/);
  assert.match(domainFile({ ...input, hypervisor: "xen" }), /bootloader = "pygrub"/);
});
