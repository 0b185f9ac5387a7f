/**
 * Live migration under QEMU/TCG (a few minutes): a controller, a storage host and TWO compute
 * hosts running the qemu driver, each an `etherplane` process in its own namespace (cluster-lab).
 * A guest booted from an AoE volume writes an increasing counter to a file on that volume and to
 * its console every 100 ms; it is live-migrated A -> B -> A with `etherplane migrate`. After each
 * move: it runs on the destination with the same boot id and a larger counter (a new console
 * session shows it), the source's copy is gone and the source's SAN interface gets no answer from
 * the volume while the destination's does. At the end the counter file holds 1..N once each and
 * the filesystem is clean.
 */
import { guestRunDir } from "../../test/lab/host-processes.js";
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
import { ClusterLab, type StorageHost } from "../../test/lab/cluster-lab.js";
import { runCli } from "../../test/lab/cli-process.js";
import { run } from "../../test/lab/netns.js";

const BOOT_MS_MAX = 180_000;
const TASK_MS_MAX = 60_000;
const VOLUME_BYTES = 64 * 1024 * 1024;

/** The guest's init: its boot id, then a counter on the console and in /counter every 100 ms. */
const COUNTER_SCRIPT = `
b=$(cat /proc/sys/kernel/random/boot_id)
echo "EP-BOOTID $b"
(
  n=0
  while true; do
    n=$((n + 1))
    echo "$n" >> /counter
    echo "EP-COUNT $n $b"
    if [ $((n % 10)) = 0 ]; then sync; fi
    sleep 0.1
  done
) &
`;

/** The last "EP-COUNT n bootid" on a console: [n, bootid]. */
function lastCount(text: string): [number, string] | undefined {
  const matches = [...text.matchAll(/EP-COUNT (\d+) ([0-9a-f-]{36})/g)];
  const last = matches.at(-1);
  return last?.[1] && last[2] ? [Number(last[1]), last[2]] : undefined;
}

test("live migration under QEMU/TCG: A -> B -> A keeps the guest running, its disk and console follow, the source loses the volume (a few minutes)", async (t) => {
  const kit = await domainGuestKit();
  const lab = await ClusterLab.create("mig");
  t.after(() => lab.close());
  await lab.startController();
  const storage = await lab.storageHost("sto1");
  await lab.startAgent(storage);
  const hostA = await lab.computeHost("cmpa", "qemu");
  const hostB = await lab.computeHost("cmpb", "qemu");
  await lab.startAgent(hostA);
  await lab.startAgent(hostB);
  await lab.waitFor("both compute hosts' hypervisors", 90_000, async () => {
    const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
    const ready = body.hosts.filter((h) => h.inventory?.hypervisor?.kind === "qemu");
    return ready.length === 2 ? null : `${ready.length} of 2`;
  });
  const domain = async (name: string) =>
    (await lab.call<{ domain: DomainRecord }>("GET", `/api/v1/domains/${name}`)).body.domain;
  const task = async (id: string) =>
    (await lab.call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${id}`)).body.task;
  const cli = async (args: string[]) => {
    const daemon = lab.cli(args);
    const code = await daemon.wait();
    return { code, stdout: daemon.stdout, stderr: daemon.stderr };
  };

  // The volume with the counter guest's root filesystem, written over AoE from host A.
  const pool = await lab.call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
    host: "sto1",
    name: "p1",
    kind: "directory",
    path: path.join(storage.dataDir, "pool"),
  });
  assert.equal(pool.status, 201, JSON.stringify(pool.body));
  const macA = await hostA.ns.mac(hostA.aoeIf);

  const created = await lab.call<{ volume: VolumeRecord; task: TaskRecord }>(
    "POST",
    "/api/v1/volumes",
    { name: "mig1-root", sizeBytes: VOLUME_BYTES, allow: [macA] },
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
    initScript: COUNTER_SCRIPT,
  });
  const write = await runCli(["aoe", "write", device, "--iface", hostA.aoeIf], {
    ns: hostA.ns,
    input: fs.readFileSync(image),
    timeoutMs: 120_000,
  });
  assert.equal(write.code, 0, write.stderr);
  assert.equal((await cli(["volume", "deny", "mig1-root", macA])).code, 0);

  for (const host of ["cmpa", "cmpb"]) {
    const network = await cli(["network", "create", "xenbr1", "--host", host]);
    assert.equal(network.code, 0, network.stderr);
  }
  // Both hosts have the kernel and ramdisk at the same path in their own boot directory.
  const kernelA = lab.bootFile(hostA, kit.kernel);
  const initrdA = lab.bootFile(hostA, kit.initrd);
  lab.bootFile(hostB, kit.kernel);
  lab.bootFile(hostB, kit.initrd);
  // Boot files resolve inside each agent's own --boot-dir: name them relative to it.
  const file = path.join(lab.dir, "mig1.cfg");
  fs.writeFileSync(
    file,
    [
      'name = "mig1"',
      `kernel = "${path.basename(kernelA)}"`,
      `ramdisk = "${path.basename(initrdA)}"`,
      "memory = 160",
      "vif = [ 'bridge=xenbr1' ]",
      `disk = [ 'phy:/dev/etherd/${device},xvda,w' ]`,
      'root = "/dev/xvda rw"',
      'extra = "console=ttyS0 ep_hostname=mig1"',
      "on_crash = 'destroy'",
      "",
    ].join("\n"),
  );
  const imported = await lab.call("POST", "/api/v1/domains", {
    config: fs.readFileSync(file, "utf8"),
  });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const started = await cli(["start", "mig1", "--host", "cmpa"]);
  assert.equal(started.code, 0, `${started.stderr}\n${lab.logs()}`);

  /** A console session until it shows a counter above `above`; returns [count, bootId]. */
  const countOnConsole = async (above: number): Promise<[number, string]> => {
    const session = lab.cli(["console", "mig1"]);
    let seen: [number, string] | undefined;
    await lab.waitFor(`a counter above ${above} on the console`, BOOT_MS_MAX, () => {
      seen = lastCount(session.stdout);
      return seen && seen[0] > above ? null : session.stdout.slice(-300);
    });
    session.child.stdin?.write(Buffer.from([0x1d]));
    assert.equal(await session.wait(), 0, session.stderr);
    assert.ok(seen);
    return seen;
  };
  /** Whether `host`'s SAN interface gets an answer from the volume. */
  const sees = async (host: StorageHost): Promise<boolean> => {
    const found = await runCli(["aoe", "discover", "--iface", host.aoeIf, "--timeout", "1500"], {
      ns: host.ns,
      timeoutMs: 30_000,
    });
    return new RegExp(`\\b${device.replace(".", "\\.")}\\b`).test(found.stdout);
  };

  let [count, bootId] = await countOnConsole(0);
  assert.equal(await sees(hostA), true, "A reaches its guest's volume");
  assert.equal(await sees(hostB), false, "B does not, before any migration");

  for (const [from, to] of [
    [hostA, hostB],
    [hostB, hostA],
  ] as const) {
    const moved = await cli(["migrate", "mig1", to.name]);
    assert.equal(moved.code, 0, `${moved.stdout}\n${moved.stderr}\n${lab.logs()}`);
    assert.match(
      moved.stdout + moved.stderr,
      new RegExp(`mig1 moved from ${from.name} to ${to.name}`),
    );
    const record = await domain("mig1");
    const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
    assert.equal(body.hosts.find((h) => h.id === record.hostId)?.name, to.name);
    // It runs on: same boot, a larger counter, on a console that now goes to the destination.
    const [after, afterBoot] = await countOnConsole(count);
    assert.equal(afterBoot, bootId, "the same boot: it was not restarted");
    assert.ok(after > count, `the counter went on: ${count} -> ${after}`);
    [count, bootId] = [after, afterBoot];
    // The source's copy is gone; only the destination reaches the volume.
    const runDir = guestRunDir(from, "mig1");
    assert.equal(fs.existsSync(runDir), false, `${runDir} is gone with the source's QEMU`);
    // The same path on the destination exists: the check above looks where QEMU's files are.
    const there = guestRunDir(to, "mig1");
    assert.equal(fs.existsSync(there), true, `${there} holds the destination's QEMU`);
    assert.equal(await sees(from), false, `${from.name} no longer reaches the volume`);
    assert.equal(await sees(to), true, `${to.name} reaches the volume`);
    const tasks = await lab.call<{ tasks: TaskRecord[] }>("GET", "/api/v1/tasks?limit=5");
    const report = tasks.body.tasks.find(
      (t) => t.kind === "domain.migrate" && t.state === "succeeded",
    );
    assert.ok(report, JSON.stringify(tasks.body));
  }

  // Stop it; the counter file holds 1..N, each once, and the filesystem is clean.
  const shutdown = await cli(["shutdown", "mig1", "--timeout", "60"]);
  assert.equal(shutdown.code, 0, `${shutdown.stderr}\n${lab.logs()}`);
  const volumeFile = path.join(storage.dataDir, "pool", `${volume.id}.img`);
  const counter = await run("debugfs", ["-R", "cat /counter", volumeFile]);
  const values = counter.stdout.trim().split("\n").map(Number);
  assert.ok(values.length >= count - 20, `${values.length} values on disk, ${count} seen`);
  values.forEach((value, index) => assert.equal(value, index + 1, `line ${index + 1}`));
  const fsck = await run("e2fsck", ["-fn", volumeFile]);
  assert.doesNotMatch(fsck.stdout, /UNEXPECTED INCONSISTENCY|Fix\?/);
});
