/**
 * Domains end to end under QEMU/TCG (a minute or so): a controller, a storage host and a compute
 * host running the qemu driver, each an `etherplane` process in its own namespace. A volume gets
 * a busybox root filesystem over AoE; a domain file in the seed's style (kernel, ramdisk, root,
 * extra, a vif on a bridge, a phy: disk on /dev/etherd, the on_* actions) is created with the
 * CLI; the guest boots from the AoE volume (the initiator's NBD bridge on this machine, which has
 * no aoe module), writes a marker and powers off, and on_poweroff = 'destroy' leaves it stopped.
 * Started again, its console shows the boot and takes input; crashed from the console, on_crash =
 * 'restart' brings it back; pause, then a graceful shutdown. Afterwards the volume holds the
 * markers of every boot and its filesystem is clean.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { TaskRecord, VolumeRecord } from "../cluster/model.js";
import { domainGuestKit } from "../../test/lab/domain-guest/index.js";
import { bootMarkers, bootMarkerScript, xlRow } from "../../test/lab/domain-guest/boot-markers.js";
import { domainConfig } from "../../test/lab/domain-guest/domain-config.js";
import { ClusterLab } from "../../test/lab/cluster-lab.js";
import { guestVolume } from "../../test/lab/guest-volume.js";
import { run } from "../../test/lab/netns.js";
import { BRIDGE, qemuCluster } from "../../test/lab/qemu-cluster.js";

const BOOT_MS_MAX = 120_000;

test("domains under QEMU/TCG: boot from an AoE volume, on_poweroff, console, on_crash, shutdown (about a minute)", async (t) => {
  const kit = await domainGuestKit();
  // Leases longer than an agent's restart on a loaded machine: this test kills the compute agent
  // and starts it again, which must not look like a host death (the default declares it dead
  // 4 s after its last renewal, and a Node agent under load can take longer to come back: the
  // host was then fenced and its HA guest destroyed). Host deaths are ha-qemu.integ's subject.
  const cluster = await qemuCluster({
    tag: "dom",
    computeHosts: ["cmp1"],
    controllerArgs: [
      ...["--lease-renew-ms", "1000", "--lease-suspect-ms", "30000"],
      ...["--lease-dead-ms", "60000"],
    ],
  });
  const { lab, domain, task, cli } = cluster;
  t.after(() => lab.close());
  const [compute] = cluster.computes;
  assert.ok(compute);

  // Storage: a volume, and a root filesystem written into it over AoE. The compute host's SAN
  // MAC may see it while the root filesystem is written, no longer after.
  const {
    volume,
    device,
    file: volumeFile,
  } = await guestVolume(cluster, {
    name: "guest1-root",
    writer: compute,
    initScript: bootMarkerScript({ poweroffOnFirstBoot: true }),
  });
  const computeMac = await compute.ns.mac(compute.aoeIf);
  const grants = async () =>
    (await lab.call<{ volume: VolumeRecord }>("GET", `/api/v1/volumes/${volume.id}`)).body.volume
      .grants;

  // A network and the domain file, in the seed's style, created with the CLI.
  await cluster.createNetworks(["cmp1"]);
  const file = path.join(lab.dir, "guest1.cfg");
  fs.writeFileSync(
    file,
    domainConfig({
      name: "guest1",
      kernel: lab.bootFile(compute, kit.kernel),
      ramdisk: lab.bootFile(compute, kit.initrd),
      memoryMiB: 192,
      device,
      bridge: BRIDGE,
      actions: ["on_poweroff = 'destroy'", "on_reboot   = 'restart'", "on_crash    = 'restart'"],
    }),
  );

  // Checks made before any guest starts: an unknown disk, a disk not allowed for this host.
  const lost = await lab.call("POST", "/api/v1/domains", {
    config: `name = "lost"\nmemory = 64\ndisk = [ 'phy:/dev/etherd/e9.9,xvda,w' ]\n`,
  });
  assert.equal(lost.status, 201);
  const lostStart = await cli(["start", "lost"]);
  assert.equal(lostStart.code, 8, lostStart.stderr);
  assert.match(lostStart.stderr, /disk xvda: \/dev\/etherd\/e9\.9 is not an etherplane volume/);
  // A host file as ramdisk (issue 10): the compute agent refuses it, naming its boot directory.
  const shadow = await lab.call("POST", "/api/v1/domains", {
    config: `name = "shadow"\nmemory = 64\nkernel = "${lab.bootFile(compute, kit.kernel)}"\nramdisk = "/etc/shadow"\n`,
  });
  assert.equal(shadow.status, 201, JSON.stringify(shadow.body));
  const shadowStart = await lab.call<{ task: TaskRecord }>(
    "POST",
    "/api/v1/domains/shadow/start",
    {},
  );
  assert.equal(shadowStart.status, 202, `${JSON.stringify(shadowStart.body)}\n${lab.logs()}`);
  // The refusal reaches the user through the start's task (then the domain is stopped again).
  await lab.waitFor("the agent to refuse the ramdisk", 60_000, async () => {
    const started = await task(shadowStart.body.task.id);
    const error = started.error?.message ?? "";
    return started.state === "failed" &&
      error.includes(`outside this host's boot directory ${compute.bootDir}`)
      ? null
      : JSON.stringify(started);
  });
  assert.equal((await domain("shadow")).observed?.state, "stopped", "no guest was made");

  // 1. Boot from the volume: marker, power-off, on_poweroff = 'destroy' leaves it stopped.
  const first = await cli(["create", file]);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}\n${lab.logs()}`);
  assert.match(first.stderr, new RegExp(`disk xvda: /dev/etherd/${device} is volume guest1-root`));
  assert.match(first.stderr, /vif 0: no MAC given; allocated 00:16:3e:/);
  const imported = await domain("guest1");
  assert.match(imported.vifs[0]?.mac ?? "", /^00:16:3e:[0-7][0-9a-f]:/);
  await lab.waitFor("the first boot to power off", BOOT_MS_MAX, async () => {
    const d = await domain("guest1");
    if (d.observed?.lastExit?.reason !== "poweroff")
      return `observed ${JSON.stringify(d.observed)}`;
    return d.desiredState === "stopped" && d.observed.state === "stopped" ? null : d.desiredState;
  });
  assert.equal((await domain("guest1")).observed?.lastExit?.action, "destroy");
  assert.deepEqual(await grants(), [], "stopped: the compute host's access is taken back");
  const stoppedList = await cli(["list"]);
  assert.equal(stoppedList.code, 0, stoppedList.stderr);
  assert.deepEqual(xlRow(stoppedList.stdout, "guest1"), [
    "guest1",
    "-",
    "192",
    "1",
    "------",
    "0.0",
  ]);

  // Twice is refused: start, then start again while it runs.
  const second = await cli(["start", "guest1"]);
  assert.equal(second.code, 0, `${second.stderr}\n${lab.logs()}`);
  assert.deepEqual(
    (await grants()).map((g) => g.macs),
    [[computeMac]],
    "running: only the placement's grant lets the compute host reach its disk",
  );
  const again = await cli(["start", "guest1"]);
  assert.equal(again.code, 8);
  assert.match(again.stderr, /guest1 is already running on cmp1/);

  // 2. The console shows the boot and takes input; a crash from it is restarted (on_crash).
  const consoleCli = lab.cli(["console", "guest1"]);
  const stdin = consoleCli.child.stdin;
  assert.ok(stdin);
  await lab.waitFor("the console to show the second boot", BOOT_MS_MAX, () =>
    /EP-BOOT 2/.test(consoleCli.stdout) && /EP-GUEST READY guest1/.test(consoleCli.stdout)
      ? null
      : consoleCli.stdout.slice(-200),
  );
  assert.match(consoleCli.stdout, /Linux version/, "the history holds the kernel's boot messages");
  const token = `ep-${process.pid}-${Date.now()}`;
  stdin.write(`echo ${token}-echoed | tr a-z A-Z\n`);
  await lab.waitFor("the guest to answer on its console", 30_000, () =>
    consoleCli.stdout.includes(`${token}-ECHOED`.toUpperCase())
      ? null
      : consoleCli.stdout.slice(-200),
  );
  const running = await cli(["list"]);
  const row = xlRow(running.stdout, "guest1");
  const domidBefore = Number(row[1]);
  assert.ok(Number.isInteger(domidBefore) && domidBefore >= 1, `ID column: ${row[1]}`);
  assert.deepEqual(row.slice(2, 4), ["192", "1"]);
  assert.match(row[4] ?? "", /^(r-----|-b----)$/);

  stdin.write("echo c > /proc/sysrq-trigger\n");
  await lab.waitFor("on_crash = 'restart' to bring the guest back", BOOT_MS_MAX, async () => {
    const d = await domain("guest1");
    const seen = d.observed;
    if (seen?.lastExit?.reason !== "crash") return `observed ${JSON.stringify(seen)}`;
    return seen.restarts >= 1 && seen.state === "running" && seen.domid !== domidBefore
      ? null
      : JSON.stringify(seen);
  });
  assert.equal((await domain("guest1")).observed?.lastExit?.action, "restart");
  assert.equal((await domain("guest1")).desiredState, "running");
  // The console session ends with the crashed guest; the CLI leaves cleanly.
  assert.equal(await consoleCli.wait(), 0, consoleCli.stderr);

  // The compute agent dies (kill -9) and comes back: the guest and its disk bridge ran on.
  const beforeKill = (await domain("guest1")).observed;
  await ClusterLab.kill(compute.agent);
  await lab.startAgent(compute);
  await lab.waitFor("the restarted agent to report", 60_000, async () => {
    const seen = (await domain("guest1")).observed;
    return seen && seen.atMs > (beforeKill?.atMs ?? 0) ? null : JSON.stringify(seen);
  });
  const afterRestart = (await domain("guest1")).observed;
  assert.equal(afterRestart?.state, "running");
  assert.equal(afterRestart?.domid, beforeKill?.domid, "the same guest, not a new one");
  assert.equal(afterRestart?.restarts, beforeKill?.restarts);

  // 3. Pause shows `p`; unpause; a graceful shutdown (ACPI power button) stops it.
  const paused = await cli(["pause", "guest1"]);
  assert.equal(paused.code, 0, paused.stderr);
  assert.match(xlRow((await cli(["list"])).stdout, "guest1")[4] ?? "", /^--p---$/);
  assert.equal((await cli(["unpause", "guest1"])).code, 0);
  // The restarted guest's console (a new session) shows its own boot; ^] leaves it.
  const thirdConsole = lab.cli(["console", "guest1"]);
  await lab.waitFor("the third boot on the console", BOOT_MS_MAX, () =>
    /EP-BOOT 3/.test(thirdConsole.stdout) && /EP-GUEST READY guest1/.test(thirdConsole.stdout)
      ? null
      : thirdConsole.stdout.slice(-200),
  );
  thirdConsole.child.stdin?.write(Buffer.from([0x1d]));
  assert.equal(await thirdConsole.wait(), 0, thirdConsole.stderr);
  const shutdown = await cli(["shutdown", "guest1", "--timeout", "90"]);
  assert.equal(shutdown.code, 0, `${shutdown.stderr}\n${lab.logs()}`);
  const after = await domain("guest1");
  assert.equal(after.observed?.state, "stopped");
  assert.equal(after.desiredState, "stopped");
  assert.equal(after.observed?.lastExit?.reason, "poweroff", "the guest powered itself off");

  // On the storage host: every boot's marker is in the volume and the filesystem is clean.
  const marker = await run("debugfs", ["-R", "cat /marker", volumeFile]);
  assert.match(marker.stdout, bootMarkers(3));
  const fsck = await run("e2fsck", ["-fn", volumeFile]);
  assert.doesNotMatch(fsck.stdout, /UNEXPECTED INCONSISTENCY|Fix\?/);

  // The domain can go; its volume stays.
  assert.equal((await cli(["domain", "delete", "guest1"])).code, 0);
  assert.equal((await lab.call("GET", `/api/v1/volumes/${volume.id}`)).status, 200);
});
