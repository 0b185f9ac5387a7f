import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { isEtherplaneError } from "../foundation/errors.js";
import { parseMounts, selectMounts, targetFsType } from "./mounts.js";

const fixture = readFileSync(
  new URL("../../../src/p2v/fixtures/debian-mounts.txt", import.meta.url),
  "utf8",
);

test("a Debian server's mounts: disks copied root first, the rest skipped with reasons", () => {
  const mounts = parseMounts(fixture);
  assert.equal(mounts.length, 14);
  assert.equal(mounts[12]?.mountPoint, "/mnt/my data", "\\040 is a space (proc(5))");
  const { copy, skip } = selectMounts(mounts);
  assert.deepEqual(
    copy.map((m) => m.mountPoint),
    ["/", "/boot", "/home"],
  );
  const reason = (mp: string) => skip.find((s) => s.mount.mountPoint === mp)?.reason ?? "";
  assert.match(reason("/proc"), /kernel or init/);
  assert.match(reason("/dev/pts"), /kernel or init/);
  assert.match(reason("/run"), /kernel or init/);
  assert.match(reason("/mnt/my data"), /network file system/);
  assert.match(reason("/tmp"), /tmpfs: not a disk/);
  assert.match(reason("/srv/bind"), /already copied/);
  assert.equal(copy.length + skip.length, mounts.length, "every mount is either copied or skipped");
});

test("the target file system is the root's own when ext or XFS, else ext4", () => {
  const m = (fsType: string) => ({ device: "/dev/x", mountPoint: "/", fsType, options: [] });
  assert.equal(targetFsType(m("xfs")), "xfs");
  assert.equal(targetFsType(m("ext3")), "ext3");
  assert.equal(targetFsType(m("btrfs")), "ext4");
});

test("a root that is no disk (a live CD's overlay) is refused; malformed lines are refused", () => {
  assert.throws(
    () => selectMounts(parseMounts("overlay / overlay rw 0 0\nproc /proc proc rw 0 0\n")),
    (e) => isEtherplaneError(e, "INVALID_ARGUMENT") && /live CD or a container/.test(e.message),
  );
  assert.throws(
    () => parseMounts("garbage\n"),
    (e) => isEtherplaneError(e, "PROTOCOL"),
  );
  assert.throws(
    () => parseMounts("a /b c d\n".repeat(5000)),
    (e) => isEtherplaneError(e, "PROTOCOL") && /at most/.test(e.message),
  );
});

test("a mount hidden by a later one on the same path is not copied", () => {
  const { copy, skip } = selectMounts(
    parseMounts(
      "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /data ext4 rw 0 0\n/dev/sdc1 /data xfs rw 0 0\n",
    ),
  );
  assert.deepEqual(
    copy.map((m) => m.device),
    ["/dev/sda1", "/dev/sdc1"],
  );
  assert.match(skip[0]?.reason ?? "", /hidden/);
});
