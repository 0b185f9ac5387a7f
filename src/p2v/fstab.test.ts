import assert from "node:assert/strict";
import { test } from "node:test";
import { rewriteFstab } from "./fstab.js";

const source = `# /etc/fstab: static file system information.
UUID=1111-aaaa /               ext4    errors=remount-ro 0       1
UUID=2222-bbbb /boot           ext2    defaults        0       2
/dev/mapper/vg0-home /home     xfs     defaults        0       2
/dev/sdb1       /backup         ext4    noauto          0       2
UUID=3333-cccc none            swap    sw              0       0
nas:/export/data /mnt/data     nfs4    defaults        0       0
proc            /proc           proc    defaults        0       0
tmpfs           /tmp            tmpfs   defaults        0       0
`;

test("fstab: new root by UUID, merged mounts, swap and absent disks commented with notes", () => {
  const { text, changes } = rewriteFstab(source, {
    rootSpec: "UUID=9999-new",
    rootFsType: "ext4",
    mergedMountPoints: new Set(["/boot", "/home"]),
  });
  const active = text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
  assert.deepEqual(active, [
    "UUID=9999-new\t/\text4\terrors=remount-ro\t0\t1",
    "nas:/export/data /mnt/data     nfs4    defaults        0       0",
    "proc            /proc           proc    defaults        0       0",
    "tmpfs           /tmp            tmpfs   defaults        0       0",
  ]);
  assert.match(text, /# etherplane p2v: swap on the physical server's disk.*\n# UUID=3333-cccc/);
  assert.match(text, /# etherplane p2v: \/boot was copied into the root file system\n# UUID=2222/);
  assert.match(text, /# etherplane p2v: a disk the domain does not have.*\n# \/dev\/sdb1/);
  assert.match(text, /# etherplane p2v: root was: UUID=1111-aaaa/);
  assert.equal(changes.length, 5, changes.join("\n"));
  assert.match(changes[0] ?? "", /root UUID=1111-aaaa \(ext4\) -> UUID=9999-new \(ext4\)/);
});

test("a root of another type (btrfs copied as ext4) gets default options", () => {
  const { text } = rewriteFstab("UUID=a / btrfs subvol=@,compress=zstd 0 0\n", {
    rootSpec: "UUID=b",
    rootFsType: "ext4",
    mergedMountPoints: new Set(),
  });
  assert.match(text, /^UUID=b\t\/\text4\tdefaults\t0\t0$/m);
});

test("fstab without a root line gets one; an already right root is unchanged", () => {
  const added = rewriteFstab("proc /proc proc defaults 0 0", {
    rootSpec: "UUID=x",
    rootFsType: "xfs",
    mergedMountPoints: new Set(),
  });
  assert.equal(
    added.text,
    "proc /proc proc defaults 0 0\n# etherplane p2v: the root file system, the new volume\nUUID=x\t/\txfs\tdefaults\t0\t1\n",
  );
  assert.deepEqual(added.changes, ["fstab: added root UUID=x (xfs)"]);
  const same = rewriteFstab("UUID=x / xfs defaults 0 1\n", {
    rootSpec: "UUID=x",
    rootFsType: "xfs",
    mergedMountPoints: new Set(),
  });
  assert.deepEqual(same, { text: "UUID=x / xfs defaults 0 1\n", changes: [] });
});
