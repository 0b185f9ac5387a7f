/**
 * P2V from a real machine (issue 15's tests): the "physical server" is a QEMU guest (TCG) with
 * its own Debian kernel, root file system on its own disk (/home on a second one), busybox init
 * and Debian's OpenSSH sshd (test/lab/p2v-machine.ts), reached over QEMU's user-mode network
 * from the storage host's namespace. `etherplane p2v` inspects it, copies it into a volume of the
 * storage host, fixes the copy and defines the domain; the copy's files match the machine's
 * (checksums, owners, modes, link counts, sparse blocks, xattr and ACL). With `--boot volume`
 * the copy needs nothing on the compute host that starts it (p2v runs on the storage host, whose
 * boot directory is not the compute host's): started on a compute host running the qemu driver,
 * its firmware boots extlinux from the AoE volume, extlinux the machine's own kernel and initrd,
 * and its console shows the machine's hostname in a login prompt on ttyS0. A few minutes under
 * TCG.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import type { DomainRecord, VolumeRecord } from "../../cluster/model.js";
import { domainGuestKit } from "../../../test/lab/domain-guest/index.js";
import { P2vMachine } from "../../../test/lab/p2v-machine.js";
import { RCS_FSTAB_ROOT, RCS_MOUNT_A, SOURCE_HOSTNAME } from "../../../test/lab/p2v-source.js";
import { run } from "../../../test/lab/netns.js";
import { runP2v } from "../../../test/lab/p2v-run.js";
import { qemuCluster } from "../../../test/lab/qemu-cluster.js";

const MACHINE_BOOT_MS_MAX = 420_000;
const P2V_MS_MAX = 600_000;
const BOOT_MS_MAX = 600_000;
/** Busybox sh on both sides: what "the files match" compares (inode numbers differ, so not %i). */
const FILES = [
  "srv/data/owned",
  "srv/data/linked-a",
  "srv/data/linked-b",
  "srv/data/sparse",
  "srv/data/tagged",
  "srv/data/random",
  "home/notes.txt",
  "etc/hostname",
  "bin/busybox",
  "usr/bin/tar",
];
const LISTING = `cd / && for f in ${FILES.join(" ")}; do stat -c '%n %u:%g %a links=%h size=%s blocks=%b' $f; sha256sum $f; done`;

test("p2v of a QEMU machine over SSH: the copy matches and boots under the qemu driver with the machine's hostname", async (t) => {
  const kit = await domainGuestKit();
  const started: { machine?: P2vMachine; booted?: Promise<void> } = {};
  t.after(() => started.machine?.close());
  const { lab, storage, computes } = await qemuCluster({
    tag: "p2vm",
    computeHosts: ["cmp1"],
    // Built once the lab's namespaces exist, not before: its disks are loop-mounted while it is
    // built, and a process entering a namespace then would keep a copy of those mounts (a dirty
    // file system under the booting machine). It boots while the cluster starts.
    beforeStart: (storageHost) => {
      const machine = P2vMachine.create("p2vm", kit);
      started.machine = machine;
      started.booted = machine.start(storageHost.ns, MACHINE_BOOT_MS_MAX);
      started.booted.catch(() => undefined);
    },
  });
  t.after(() => lab.close());
  const [compute] = computes;
  assert.ok(compute);
  const { machine, booted } = started;
  assert.ok(machine && booted, "the machine started booting with the cluster");
  await booted;

  const ssh = (command: string) =>
    storage.ns.exec(
      "ssh",
      [
        ...["-i", machine.identity, "-p", String(machine.port)],
        ...["-o", `UserKnownHostsFile=${machine.knownHosts}`, "-o", "StrictHostKeyChecking=yes"],
        ...["-o", "BatchMode=yes", "root@127.0.0.1", command],
      ],
      120_000,
    );
  const onSource = (await ssh(LISTING)).stdout;
  assert.match(onSource, /srv\/data\/sparse \S+ \d+ links=1 size=33554432 blocks=8\b/);
  assert.match((await ssh("uname -r")).stdout, new RegExp(kit.release.replace(/\./g, "\\.")));

  const report = (await runP2v(
    lab,
    storage,
    [
      `root@127.0.0.1:${machine.port}`,
      ...["--name", "noc", "--pool", "p1", "--memory", "192", "--vcpus", "1"],
      ...["--identity", machine.identity, "--known-hosts", machine.knownHosts],
      // Its own boot dir on the storage host: nothing of this run may be needed there.
      ...["--boot", "volume", "--boot-dir", path.join(storage.dataDir, "boot")],
    ],
    P2V_MS_MAX,
  )) as { changes: string[]; files: number; bytes: number };
  assert.ok(report.files > 20 && report.bytes > 1_000_000, JSON.stringify(report));
  const changes = report.changes.join("\n");
  assert.match(changes, /fstab: root UUID=/);
  assert.match(changes, /\/home/, "the merged /home's fstab line is listed");
  assert.match(changes, /inittab: getty on ttyS0/);
  const release = kit.release.replace(/\./g, "\\.");
  assert.match(changes, new RegExp(`extlinux.conf boots /boot/vmlinuz-${release}`));
  assert.match(changes, /extlinux installed in the volume's first sector/);
  assert.doesNotMatch(changes, /copied to/, "no kernel copied out to a host");

  // The copy, read on the storage host from the pool file before it boots.
  const { volume } = (await lab.call<{ volume: VolumeRecord }>("GET", "/api/v1/volumes/noc")).body;
  const image = path.join(storage.dataDir, "pool", `${volume.id}.img`);
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), "ep-p2vm-copy-"));
  await run("mount", ["-o", "ro,loop", image, mnt]);
  try {
    const inCopy = await run("chroot", [mnt, "/bin/sh", "-c", LISTING]);
    assert.equal(inCopy.stdout, onSource, "the copy's files match the machine's");
    const a = fs.statSync(path.join(mnt, "srv/data/linked-a"));
    const b = fs.statSync(path.join(mnt, "srv/data/linked-b"));
    assert.equal(a.ino, b.ino, "the hard link is one inode");
    const tagged = path.join(mnt, "srv/data/tagged");
    assert.match((await run("getfattr", ["-n", "user.p2v", tagged])).stdout, /user.p2v="kept"/);
    assert.match((await run("getfacl", ["-n", tagged])).stdout, /user:1001:r--/);
    const fstab = fs.readFileSync(path.join(mnt, "etc/fstab"), "utf8");
    assert.match(fstab, /^#.*\/dev\/vdb \/home/m, "the merged /home is commented out");
    assert.match(fstab, /^#.*\/dev\/vdc none swap/m, "the swap line is commented out");
    assert.ok(fs.existsSync(path.join(mnt, "boot/extlinux/ldlinux.sys")), "extlinux is installed");
  } finally {
    await run("umount", [mnt]);
    fs.rmdirSync(mnt);
  }

  // The copy boots on the compute host, from its AoE volume, with the machine's kernel.
  const start = await lab.call("POST", "/api/v1/domains/noc/start", {});
  assert.ok(start.status < 300, JSON.stringify(start.body));
  const domain = async () =>
    (await lab.call<{ domain: DomainRecord }>("GET", "/api/v1/domains/noc")).body.domain;
  // The console attaches to a running guest (its history replays the boot from the start).
  await lab.waitFor("the copy running on cmp1", BOOT_MS_MAX, async () => {
    const observed = (await domain()).observed;
    return observed?.state === "running" ? null : JSON.stringify(observed);
  });
  const consoleCli = lab.cli(["console", "noc"]);
  await lab.waitFor("the copy's login prompt on its console", BOOT_MS_MAX, async () => {
    if (new RegExp(`${SOURCE_HOSTNAME} login:`).test(consoleCli.stdout)) return null;
    if (consoleCli.child.exitCode !== null)
      throw new Error(`etherplane console exited: ${consoleCli.stderr}`);
    return `${JSON.stringify((await domain()).observed)} ${consoleCli.stdout.slice(-300)}`;
  });
  const seen = consoleCli.stdout;
  assert.match(
    seen,
    /SYSLINUX \d[^\n]*\n[^\n]*Loading \/boot\/vmlinuz-/,
    "the firmware booted extlinux",
  );
  assert.match(seen, new RegExp(`Linux version ${release}`));
  assert.match(seen, /root=UUID=[0-9a-f-]{36} ro console=ttyS0/);
  assert.match(seen, new RegExp(`${RCS_FSTAB_ROOT} UUID=[0-9a-f-]{36} is /dev/vda`));
  assert.match(seen, new RegExp(`${RCS_MOUNT_A} 0`));
  consoleCli.child.stdin?.write(Buffer.from([0x1d]));
  assert.equal(await consoleCli.wait(), 0, consoleCli.stderr);
  assert.deepEqual(fs.readdirSync(compute.bootDir ?? ""), [], "the compute host needed no file");
  // The machine was only read: it still answers, with its own hostname.
  assert.equal((await ssh("hostname")).stdout.trim(), SOURCE_HOSTNAME);
});
