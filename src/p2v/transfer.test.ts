import assert from "node:assert/strict";
import { test } from "node:test";
import type { SshSource } from "./ssh-source.js";
import {
  localTarArgs,
  nestedMountPoints,
  parseRsyncStats,
  rsyncArgs,
  sourceTarCommand,
} from "./transfer.js";

const m = (mountPoint: string) => ({ device: "/dev/x", mountPoint, fsType: "ext4", options: [] });

test("each file system is copied on its own: nested copied mounts are excluded from their parent", () => {
  const all = [m("/"), m("/boot"), m("/home"), m("/home/big")];
  assert.deepEqual(nestedMountPoints(all[0]!, all), ["/boot", "/home", "/home/big"]);
  assert.deepEqual(nestedMountPoints(all[2]!, all), ["/big"]);
  assert.deepEqual(nestedMountPoints(all[1]!, all), []);
});

test("tar on both sides keeps numeric owners, ACLs, xattrs and sparse files with GNU tar", () => {
  assert.equal(
    sourceTarCommand("/srv/it's", true),
    "tar --numeric-owner --acls --xattrs --xattrs-include='*' --sparse --one-file-system -C '/srv/it'\\''s' -cf - .",
  );
  assert.equal(
    sourceTarCommand("/", false),
    "tar --numeric-owner --one-file-system -C '/' -cf - .",
  );
  assert.deepEqual(localTarArgs("/mnt/x", true), [
    "--numeric-owner",
    "--acls",
    "--xattrs",
    "--xattrs-include=*",
    "-xpvf",
    "-",
    "-C",
    "/mnt/x",
  ]);
});

test("rsync: the pinned known_hosts, the key, one file system, nested mounts kept; --stats counted", () => {
  const source = {
    address: { user: "root", host: "10.0.0.5", port: 2222 },
  } as unknown as SshSource;
  const args = rsyncArgs(source, m("/"), ["/home"], "/mnt/copy/", {
    identityFile: "/k/id",
    knownHostsFile: "/t/kh",
  });
  assert.deepEqual(args.slice(0, 4), ["-aHAXSx", "--numeric-ids", "--delete", "--stats"]);
  assert.equal(
    args[5],
    "ssh -p 2222 -i '/k/id' -o IdentitiesOnly=yes -o UserKnownHostsFile='/t/kh' -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes",
  );
  assert.deepEqual(args.slice(6), [
    "--exclude=/home/*",
    "--filter=P /boot/extlinux/",
    "root@10.0.0.5:/",
    "/mnt/copy/",
  ]);
  // The copy's extlinux (--boot volume) is protected from --delete on the root only.
  const home = rsyncArgs(source, m("/home"), [], "/mnt/copy/home", {
    identityFile: undefined,
    knownHostsFile: "/t/kh",
  });
  assert.ok(!home.some((a) => a.startsWith("--filter")), home.join(" "));
  const stats = parseRsyncStats(
    "Number of files: 1,204 (reg: 1,003, dir: 201)\nNumber of created files: 1\nNumber of deleted files: 2\nNumber of regular files transferred: 1,234\nTotal file size: 9 bytes\nTotal transferred file size: 56,789 bytes\n",
  );
  assert.deepEqual(stats, { transferred: 1234, deleted: 2, bytes: 56789 });
});
