/**
 * The copied server boots (issue 15's end): `etherplane p2v --start` copies a bootable "physical
 * server" (test/lab/p2v-source.ts with the domain guest kit's Debian kernel and initrd in its
 * /boot, busybox init with a getty on tty1 only) into a volume of a storage host, fixes it and
 * starts it as a domain on a compute host running the qemu driver (test/lab/qemu-cluster.ts:
 * each an `etherplane` process in its own namespace). The guest boots from the AoE volume with the
 * source's kernel copied into the compute host's boot directory, and its console shows the fstab
 * fix-up at work (the root UUID is the booted disk, `mount -a` passes without the merged /home
 * and the swap) and a login prompt with the source's hostname on ttyS0, which only the console
 * fix-up put there. A few minutes under TCG.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DomainRecord } from "../../cluster/model.js";
import { domainGuestKit } from "../../../test/lab/domain-guest/index.js";
import {
  P2vSource,
  RCS_FSTAB_ROOT,
  RCS_MOUNT_A,
  SOURCE_HOSTNAME,
} from "../../../test/lab/p2v-source.js";
import { run } from "../../../test/lab/netns.js";
import { runP2v } from "../../../test/lab/p2v-run.js";
import { qemuCluster } from "../../../test/lab/qemu-cluster.js";

const P2V_MS_MAX = 300_000;
const BOOT_MS_MAX = 240_000;

test("p2v --start: the copy boots under the qemu driver from its AoE volume, hostname and login prompt on ttyS0", async (t) => {
  const kit = await domainGuestKit();
  const { lab, storage, computes } = await qemuCluster({ tag: "p2vboot", computeHosts: ["cmp1"] });
  t.after(() => lab.close());
  const [compute] = computes;
  assert.ok(compute);

  // The server's sshd listens on the storage host's loopback, where p2v runs (the pool's host).
  const source = P2vSource.create("p2vboot", { boot: kit });
  t.after(() => source.close());
  await source.start(storage.ns);
  const report = (await runP2v(
    lab,
    storage,
    [
      `root@127.0.0.1:${source.port}`,
      ...["--name", "noc", "--pool", "p1", "--memory", "192", "--vcpus", "1"],
      ...["--identity", source.identity, "--known-hosts", source.knownHosts],
      // The compute host's boot directory (the lab's hosts share this machine's files).
      ...["--boot-dir", compute.bootDir ?? "", "--start"],
    ],
    P2V_MS_MAX,
  )) as { changes: string[]; started: boolean };
  assert.equal(report.started, true);
  const changes = report.changes.join("\n");
  assert.match(changes, /fstab: root UUID=/);
  assert.match(changes, /inittab: getty on ttyS0 \(ttyS0::respawn:\/sbin\/getty 38400 ttyS0\)/);
  assert.match(changes, /kernel: \/boot\/vmlinuz-\S+ copied to /);

  const domain = async () =>
    (await lab.call<{ domain: DomainRecord }>("GET", "/api/v1/domains/noc")).body.domain;
  assert.equal((await domain()).desiredState, "running");
  const consoleCli = lab.cli(["console", "noc"]);
  await lab.waitFor("the copy's login prompt on its console", BOOT_MS_MAX, async () => {
    if (new RegExp(`${SOURCE_HOSTNAME} login:`).test(consoleCli.stdout)) return null;
    return `${JSON.stringify((await domain()).observed)} ${consoleCli.stdout.slice(-300)}`;
  });
  const seen = consoleCli.stdout;
  assert.match(seen, /Linux version/, "the source's kernel booted");
  assert.match(seen, /root=\/dev\/vda ro/, "root= names the virtio disk under QEMU");
  // The fstab fix-up: its root UUID is the booted disk; mount -a passes (no /home, no swap).
  assert.match(seen, new RegExp(`${RCS_FSTAB_ROOT} UUID=[0-9a-f-]{36} is /dev/vda`));
  assert.match(seen, new RegExp(`${RCS_MOUNT_A} 0`));
  consoleCli.child.stdin?.write(Buffer.from([0x1d]));
  assert.equal(await consoleCli.wait(), 0, consoleCli.stderr);

  // The copy's files as the boot left them; the source's kernel is in the compute host's boot dir.
  const ls = await run("ls", [compute.bootDir ?? ""]);
  assert.match(ls.stdout, /^p2v-noc-vmlinuz-/m);
  assert.match(ls.stdout, /^p2v-noc-initrd-/m);
});
