import assert from "node:assert/strict";
import { test } from "node:test";
import type { GuestDisk } from "../driver.js";
import { guestDevicePath, rewriteRootDevice, virtioDiskName } from "./guest-cmdline.js";

const disk = (vdev: string): GuestDisk => ({
  vdev,
  source: { kind: "path", path: `/dev/${vdev}-backing` },
  readOnly: false,
});

void test("virtio disk names follow the kernel's sd-style sequence", () => {
  assert.equal(virtioDiskName(0), "vda");
  assert.equal(virtioDiskName(25), "vdz");
  assert.equal(virtioDiskName(26), "vdaa");
  assert.equal(virtioDiskName(27), "vdab");
  assert.equal(virtioDiskName(51), "vdaz");
  assert.equal(virtioDiskName(52), "vdba");
  assert.throws(() => virtioDiskName(-1));
  assert.throws(() => virtioDiskName(1.5));
});

void test("root=/dev/<vdev> of a Xen domain file points at the disk's virtio name", () => {
  // The seed's PV guests: whole-disk vdevs sda1 (root) and sda2 (swap).
  const xenPv = [disk("sda1"), disk("sda2")];
  assert.equal(
    rewriteRootDevice("root=/dev/sda1 ro console=hvc0", xenPv),
    "root=/dev/vda ro console=hvc0",
  );
  assert.equal(
    rewriteRootDevice("console=ttyS0 root=/dev/sda2", xenPv),
    "console=ttyS0 root=/dev/vdb",
  );
  // A partitioned whole disk: the partition number is kept.
  assert.equal(rewriteRootDevice("root=/dev/xvda1", [disk("xvda")]), "root=/dev/vda1");
  assert.equal(
    rewriteRootDevice("root=/dev/xvdb12", [disk("xvda"), disk("xvdb")]),
    "root=/dev/vdb12",
  );
});

void test("other root= forms and unknown devices are left alone", () => {
  const disks = [disk("xvda")];
  for (const cmdline of [
    "root=LABEL=root",
    "root=UUID=0f0e-1234",
    "root=/dev/sdc1",
    "root=/dev/mapper/vg-root",
    "root=/dev/xvda0",
    "noroot=/dev/xvda",
    "console=ttyS0  quiet",
    "",
  ]) {
    assert.equal(rewriteRootDevice(cmdline, disks), cmdline);
  }
  // sda1 is a whole disk: sda12 is not its partition 2.
  assert.equal(guestDevicePath("/dev/sda12", [disk("sda1")]), undefined);
  assert.equal(guestDevicePath("/dev/../etc/xvda", disks), undefined);
});
