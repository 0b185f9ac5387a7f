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
import type {
  DomainRecord,
  HostRecord,
  PoolRecord,
  TaskRecord,
  VolumeRecord,
} from "../cluster/model.js";
import { buildRootFsImage, domainGuestKit } from "../../test/lab/domain-guest/index.js";
import { bootMarkers, bootMarkerScript, xlRow } from "../../test/lab/domain-guest/boot-markers.js";
import { ClusterLab } from "../../test/lab/cluster-lab.js";
import { runCli } from "../../test/lab/cli-process.js";
import { run } from "../../test/lab/netns.js";

const BOOT_MS_MAX = 120_000;
const TASK_MS_MAX = 60_000;
const VOLUME_BYTES = 64 * 1024 * 1024;

test("domains under QEMU/TCG: boot from an AoE volume, on_poweroff, console, on_crash, shutdown (about a minute)", async (t) => {
  const kit = await domainGuestKit();
  const lab = await ClusterLab.create("dom");
  t.after(() => lab.close());
  await lab.startController();
  const storage = await lab.storageHost("sto1");
  await lab.startAgent(storage);
  const compute = await lab.computeHost("cmp1", "qemu");
  await lab.startAgent(compute);
  // Its first report carries the hypervisor (the qemu driver first checks whether KVM works).
  await lab.waitFor("the compute host's hypervisor", 60_000, async () => {
    const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
    const host = body.hosts.find((h) => h.name === "cmp1");
    return host?.inventory?.hypervisor?.kind === "qemu" ? null : JSON.stringify(host?.inventory);
  });

  const domain = async (name: string) =>
    (await lab.call<{ domain: DomainRecord }>("GET", `/api/v1/domains/${name}`)).body.domain;
  const task = async (id: string) =>
    (await lab.call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${id}`)).body.task;
  const cli = async (args: string[], input?: string) => {
    const daemon = lab.cli(args, input);
    const code = await daemon.wait();
    return { code, stdout: daemon.stdout, stderr: daemon.stderr };
  };

  // Storage: a pool, a volume, and a root filesystem written into it over AoE.
  const pool = await lab.call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
    host: "sto1",
    name: "p1",
    kind: "directory",
    path: path.join(storage.dataDir, "pool"),
  });
  assert.equal(pool.status, 201, JSON.stringify(pool.body));
  // The compute host's SAN MAC may see it while the root filesystem is written, no longer after.
  const computeMac = await compute.ns.mac(compute.aoeIf);
  const created = await lab.call<{ volume: VolumeRecord; task: TaskRecord }>(
    "POST",
    "/api/v1/volumes",
    { name: "guest1-root", sizeBytes: VOLUME_BYTES, allow: [computeMac] },
  );
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const volume = created.body.volume;
  const device = `e${volume.shelf}.${volume.slot}`;
  await lab.waitFor("the volume", TASK_MS_MAX, async () => {
    const { state } = await task(created.body.task.id);
    return state === "succeeded" ? null : state;
  });
  const image = path.join(lab.dir, "root.img");
  await buildRootFsImage({
    path: image,
    sizeMiB: VOLUME_BYTES / 2 ** 20,
    initScript: bootMarkerScript({ poweroffOnFirstBoot: true }),
  });
  const write = await runCli(["aoe", "write", device, "--iface", compute.aoeIf], {
    ns: compute.ns,
    input: fs.readFileSync(image),
    timeoutMs: 120_000,
  });
  assert.equal(write.code, 0, write.stderr);
  const denied = await cli(["volume", "deny", "guest1-root", computeMac]);
  assert.equal(denied.code, 0, denied.stderr);
  const grants = async () =>
    (await lab.call<{ volume: VolumeRecord }>("GET", `/api/v1/volumes/${volume.id}`)).body.volume
      .grants;

  // A network and the domain file, in the seed's style, created with the CLI.
  const network = await cli(["network", "create", "xenbr1", "--host", "cmp1"]);
  assert.equal(network.code, 0, network.stderr);
  const file = path.join(lab.dir, "guest1.cfg");
  fs.writeFileSync(
    file,
    [
      'name = "guest1"',
      `kernel = "${lab.bootFile(compute, kit.kernel)}"`,
      `ramdisk = "${lab.bootFile(compute, kit.initrd)}"`,
      "memory = 192",
      "vif = [ 'bridge=xenbr1' ]",
      `disk = [ 'phy:/dev/etherd/${device},xvda,w' ]`,
      'root = "/dev/xvda rw"',
      'extra = "console=ttyS0 ep_hostname=guest1"',
      "on_poweroff = 'destroy'",
      "on_reboot   = 'restart'",
      "on_crash    = 'restart'",
      "",
    ].join("\n"),
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
  const volumeFile = path.join(storage.dataDir, "pool", `${volume.id}.img`);
  const marker = await run("debugfs", ["-R", "cat /marker", volumeFile]);
  assert.match(marker.stdout, bootMarkers(3));
  const fsck = await run("e2fsck", ["-fn", volumeFile]);
  assert.doesNotMatch(fsck.stdout, /UNEXPECTED INCONSISTENCY|Fix\?/);

  // The domain can go; its volume stays.
  assert.equal((await cli(["domain", "delete", "guest1"])).code, 0);
  assert.equal((await lab.call("GET", `/api/v1/volumes/${volume.id}`)).status, 200);
});
