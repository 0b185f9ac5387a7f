import assert from "node:assert/strict";
import { test } from "node:test";
import {
  backingFromJson,
  backingToJson,
  describeBacking,
  sameBacking,
  sameRecord,
  type Backing,
} from "./backing.js";

const file = (path: string, dev: string, ino: string): Backing => ({
  path,
  kind: "file",
  dev,
  ino,
});

test("files: the same inode on the same device is the same disk, even renamed", () => {
  assert.equal(
    sameBacking(file("/srv/a.img", "2049", "12"), file("/srv/a.img", "2049", "12")),
    true,
  );
  assert.equal(
    sameBacking(file("/srv/a.img", "2049", "12"), file("/srv/b.img", "2049", "12")),
    true,
  );
});

test("files: another inode is another disk, even at the same path (a file replaced)", () => {
  assert.equal(
    sameBacking(file("/srv/a.img", "2049", "12"), file("/srv/b.img", "2049", "13")),
    false,
  );
  assert.equal(
    sameBacking(file("/srv/a.img", "2049", "12"), file("/srv/a.img", "2049", "13")),
    false,
  );
});

test("files: a renumbered device keeps the state only at the same path", () => {
  // Disks enumerated in another order at boot: st_dev changes, path and inode do not.
  assert.equal(
    sameBacking(file("/srv/a.img", "2049", "12"), file("/srv/a.img", "2065", "12")),
    true,
  );
  assert.equal(
    sameBacking(file("/srv/a.img", "2049", "12"), file("/srv/b.img", "2065", "12")),
    false,
  );
});

test("a volume id decides alone when either side has one", () => {
  const vol = (volumeId: string | undefined, path: string): Backing => ({
    ...file(path, "1", "1"),
    ...(volumeId !== undefined ? { volumeId } : {}),
  });
  assert.equal(sameBacking(vol("vol-1", "/p/a"), vol("vol-1", "/q/moved")), true);
  assert.equal(sameBacking(vol("vol-1", "/p/a"), vol("vol-2", "/p/a")), false);
  assert.equal(sameBacking(vol(undefined, "/p/a"), vol("vol-1", "/p/a")), false);
  assert.equal(sameBacking(vol("vol-1", "/p/a"), vol(undefined, "/p/a")), false);
});

test("block devices compare by the configured path; a kind change is another backing", () => {
  const block = (path: string): Backing => ({ path, kind: "block" });
  assert.equal(sameBacking(block("/dev/vg0/mail"), block("/dev/vg0/mail")), true);
  assert.equal(sameBacking(block("/dev/vg0/mail"), block("/dev/vg0/web")), false);
  assert.equal(sameBacking(block("/srv/a.img"), file("/srv/a.img", "1", "2")), false);
});

test("sameRecord notices a renamed path, so the record is rewritten", () => {
  assert.equal(sameRecord(file("/a", "1", "2"), file("/a", "1", "2")), true);
  assert.equal(sameRecord(file("/a", "1", "2"), file("/b", "1", "2")), false);
});

test("the JSON record round-trips; hostile records are refused with a reason", () => {
  const backing: Backing = { ...file("/srv/a.img", "2049", "18446744073709551615"), volumeId: "v" };
  assert.deepEqual(backingFromJson(JSON.parse(JSON.stringify(backingToJson(backing)))), backing);
  assert.deepEqual(backingFromJson({ path: "/dev/sdb", kind: "block" }), {
    path: "/dev/sdb",
    kind: "block",
  });
  assert.equal(typeof backingFromJson(null), "string");
  assert.equal(typeof backingFromJson([]), "string");
  assert.equal(typeof backingFromJson({ path: "", kind: "file" }), "string");
  assert.equal(typeof backingFromJson({ path: "/a", kind: "pipe" }), "string");
  assert.equal(typeof backingFromJson({ path: "/a", kind: "file", ino: 12 }), "string");
  assert.equal(typeof backingFromJson({ path: "/a", kind: "file", dev: "-1" }), "string");
  assert.equal(
    typeof backingFromJson({ path: "/a", kind: "file", volumeId: "x".repeat(129) }),
    "string",
  );
  assert.equal(typeof backingFromJson({ path: "/a".repeat(3000), kind: "file" }), "string");
});

test("descriptions name the path and what identifies it", () => {
  assert.equal(
    describeBacking(file("/srv/a.img", "2049", "12")),
    "/srv/a.img (file, dev 2049, inode 12)",
  );
  assert.equal(describeBacking({ path: "/dev/sdb", kind: "block" }), "/dev/sdb (block device)");
  assert.equal(
    describeBacking({ path: "/p/v.img", kind: "file", volumeId: "vol-1" }),
    "volume vol-1 (/p/v.img)",
  );
});
