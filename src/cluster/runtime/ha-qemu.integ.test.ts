/**
 * High availability with real processes under QEMU/TCG (a few minutes): a controller, a storage
 * host and two compute hosts running the qemu driver, each an `etherplane` process in its own
 * namespace (cluster-lab). An HA domain (on_crash = 'restart') boots from an AoE volume; its
 * guest appends a numbered marker "BOOT N" to /markers on that volume every 100 ms, synced.
 *
 * Power loss: the running host's agent, its QEMU and its disk bridges are killed with -9 (by PID,
 * from the agent's run directories) and its SAN and management links go down. The domain must run
 * on the other host within a generous bound, never on two at once (the API's record and both
 * hosts' QEMU processes sampled every 150 ms, `etherplane list --json` every second), the storage
 * target must no longer answer the dead host's MAC (its link back up, an initiator there finds
 * nothing), `etherplane events` must show each HA step, and after a clean shutdown the markers
 * are whole and e2fsck finds nothing. The measured detection, fence, placement and start times
 * are reported as diagnostics, never asserted (a loaded 2-core machine).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type {
  DomainRecord,
  EventRecord,
  HostRecord,
  PoolRecord,
  TaskRecord,
  VolumeRecord,
} from "../model.js";
import { buildRootFsImage, domainGuestKit } from "../../../test/lab/domain-guest/index.js";
import { ClusterLab, type StorageHost } from "../../../test/lab/cluster-lab.js";
import { runCli } from "../../../test/lab/cli-process.js";
import {
  diskBridgePids,
  processesNaming,
  qemuPids,
  signalAll,
} from "../../../test/lab/host-processes.js";
import { run } from "../../../test/lab/netns.js";

const BOOT_MS_MAX = 180_000;
const TASK_MS_MAX = 60_000;
/** From the kill to the guest's first marker on the other host; generous for TCG on 2 cores. */
const FAILOVER_MS_MAX = 240_000;
const SAMPLE_MS = 150;
const LIST_SAMPLE_MS = 1000;
const VOLUME_BYTES = 64 * 1024 * 1024;
const DOMAIN = "ha1";

/** The guest's init: its boot number, then "BOOT N" appended to /markers and synced every 100 ms. */
const MARKER_SCRIPT = `
b=$(( $(cat /bootcount 2>/dev/null || echo 0) + 1 ))
echo "$b" > /bootcount
sync
echo "EP-BOOT $b"
(
  n=0
  while true; do
    n=$((n + 1))
    echo "$b $n" >> /markers
    sync
    echo "EP-MARK $b $n"
    sleep 0.1
  done
) &
`;

/** The last "EP-MARK boot n" in a console log: [boot, n]. */
function lastMark(text: string): [number, number] | undefined {
  const last = [...text.matchAll(/EP-MARK (\d+) (\d+)/g)].at(-1);
  return last?.[1] && last[2] ? [Number(last[1]), Number(last[2])] : undefined;
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

interface Sample {
  atMs: number;
  hostId: string | null;
  state: string | null;
  qemu: Record<string, number>;
}

test("HA under QEMU/TCG: power loss of the running host: the domain runs on the other host, once, after the storage fenced the dead one (a few minutes)", async (t) => {
  const kit = await domainGuestKit();
  const lab = await ClusterLab.create("ha");
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
  const hostIds = new Map(
    (await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts")).body.hosts.map((h) => [
      h.id,
      h.name,
    ]),
  );
  const domain = async () =>
    (await lab.call<{ domain: DomainRecord }>("GET", `/api/v1/domains/${DOMAIN}`)).body.domain;
  const task = async (id: string) =>
    (await lab.call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${id}`)).body.task;
  const cli = async (args: string[]) => {
    const daemon = lab.cli(args);
    const code = await daemon.wait();
    return { code, stdout: daemon.stdout, stderr: daemon.stderr };
  };

  // The volume with the marker guest's root filesystem, written over AoE from host A.
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
    { name: "ha1-root", sizeBytes: VOLUME_BYTES, allow: [macA] },
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
    initScript: MARKER_SCRIPT,
  });
  const write = await runCli(["aoe", "write", device, "--iface", hostA.aoeIf], {
    ns: hostA.ns,
    input: fs.readFileSync(image),
    timeoutMs: 120_000,
  });
  assert.equal(write.code, 0, write.stderr);
  assert.equal((await cli(["volume", "deny", "ha1-root", macA])).code, 0);

  for (const host of ["cmpa", "cmpb"]) {
    const network = await cli(["network", "create", "xenbr1", "--host", host]);
    assert.equal(network.code, 0, network.stderr);
  }
  // Both hosts have the kernel and ramdisk in their own boot directory, named relative to it.
  const kernel = path.basename(lab.bootFile(hostA, kit.kernel));
  const initrd = path.basename(lab.bootFile(hostA, kit.initrd));
  lab.bootFile(hostB, kit.kernel);
  lab.bootFile(hostB, kit.initrd);
  const file = path.join(lab.dir, `${DOMAIN}.cfg`);
  fs.writeFileSync(
    file,
    [
      `name = "${DOMAIN}"`,
      `kernel = "${kernel}"`,
      `ramdisk = "${initrd}"`,
      "memory = 160",
      "vif = [ 'bridge=xenbr1' ]",
      `disk = [ 'phy:/dev/etherd/${device},xvda,w' ]`,
      'root = "/dev/xvda rw"',
      `extra = "console=ttyS0 ep_hostname=${DOMAIN}"`,
      "on_poweroff = 'destroy'",
      "on_crash = 'restart'",
      "",
    ].join("\n"),
  );
  const imported = await lab.call("POST", "/api/v1/domains", {
    config: fs.readFileSync(file, "utf8"),
  });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const started = await cli(["start", DOMAIN, "--host", "cmpa"]);
  assert.equal(started.code, 0, `${started.stderr}\n${lab.logs()}`);

  const consoleLog = (host: StorageHost) =>
    readOr(path.join(host.dataDir, "hypervisor", DOMAIN, "console.log"), "");
  await lab.waitFor("the guest's markers on host A", BOOT_MS_MAX, () => {
    const mark = lastMark(consoleLog(hostA));
    return mark && mark[0] === 1 && mark[1] >= 5 ? null : consoleLog(hostA).slice(-300);
  });
  assert.equal(qemuPids(hostA).length, 1, "host A runs the guest's QEMU");
  assert.equal(qemuPids(hostB).length, 0, "host B runs none");

  /** Whether `host`'s SAN interface gets an answer from the volume. */
  const sees = async (host: StorageHost): Promise<boolean> => {
    const found = await runCli(["aoe", "discover", "--iface", host.aoeIf, "--timeout", "1500"], {
      ns: host.ns,
      timeoutMs: 30_000,
    });
    return new RegExp(`\\b${device.replace(".", "\\.")}\\b`).test(found.stdout);
  };
  assert.equal(await sees(hostA), true, "A reaches its guest's volume before the power loss");

  // Sampling from now on: the record (API), both hosts' QEMUs (/proc), `list --json` (CLI).
  const samples: Sample[] = [];
  const listed: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const atMs = Date.now();
      const qemu = {
        cmpa: processesNaming(hostA.dataDir, "qemu-system").length,
        cmpb: processesNaming(hostB.dataDir, "qemu-system").length,
      };
      const record = await domain().catch(() => undefined);
      samples.push({
        atMs,
        hostId: record?.hostId ?? null,
        state: record?.observed?.state ?? null,
        qemu,
      });
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  })();
  const lister = (async () => {
    while (sampling) {
      const out = await cli(["list", "--json"]);
      if (out.code === 0) {
        const rows = (JSON.parse(out.stdout) as { domains: DomainRecord[] }).domains.filter(
          (d) => d.name === DOMAIN,
        );
        listed.push(
          rows
            .map((d) => `${hostIds.get(d.hostId ?? "") ?? "-"}:${d.observed?.state ?? "-"}`)
            .join("+"),
        );
      }
      await new Promise((r) => setTimeout(r, LIST_SAMPLE_MS));
    }
  })();
  t.after(async () => {
    sampling = false;
    await Promise.allSettled([sampler, lister]);
  });

  // Power loss on host A: everything at once, by PID; its links go down.
  const qemuA = qemuPids(hostA);
  const bridgesA = diskBridgePids(hostA);
  assert.equal(bridgesA.length, 1, "one disk bridge on host A");
  const agentA = hostA.agent?.child.pid;
  assert.ok(agentA !== undefined);
  const killedMs = Date.now();
  signalAll([agentA, ...qemuA, ...bridgesA], "SIGKILL");
  await hostA.ns.exec("ip", ["link", "set", hostA.aoeIf, "down"]);
  await hostA.ns.exec("ip", ["link", "set", "mgmt0", "down"]);
  await hostA.agent?.wait();
  await lab.waitFor("host A's processes to be gone", 30_000, () => {
    const left = [...processesNaming(hostA.dataDir, "qemu-system"), ...diskBridgePids(hostA)];
    return left.length === 0 ? null : `still running: ${left.join(",")}`;
  });
  const lastOnA = lastMark(consoleLog(hostA));

  await lab.waitFor("the guest's markers on host B", FAILOVER_MS_MAX, () => {
    const mark = lastMark(consoleLog(hostB));
    return mark && mark[0] === 2 && mark[1] >= 5 ? null : consoleLog(hostB).slice(-300);
  });
  const runningMs = Date.now();
  // A few more samples of the settled state, then the sampling stops.
  await new Promise((r) => setTimeout(r, 3 * LIST_SAMPLE_MS));
  sampling = false;
  await Promise.all([sampler, lister]);

  const record = await domain();
  assert.equal(hostIds.get(record.hostId ?? ""), "cmpb", "the record says it runs on host B");
  assert.equal(record.observed?.state, "running");
  assert.equal(qemuPids(hostB).length, 1, "host B runs its QEMU");
  assert.equal(processesNaming(hostA.dataDir, "qemu-system").length, 0, "host A runs none");

  // Exactly once: never a QEMU on both hosts, never a second copy on one.
  assert.ok(samples.length > 20, `${samples.length} samples`);
  for (const s of samples) {
    const copies = (s.qemu["cmpa"] ?? 0) + (s.qemu["cmpb"] ?? 0);
    assert.ok(copies <= 1, `two copies at ${s.atMs - killedMs} ms: ${JSON.stringify(s)}`);
  }
  const afterKill = samples.filter((s) => s.atMs > killedMs + 1000);
  assert.ok(
    afterKill.every((s) => (s.qemu["cmpa"] ?? 0) === 0),
    "no QEMU on host A after the power loss",
  );
  assert.ok(listed.length >= 3, `${listed.length} list samples`);
  for (const row of listed) assert.ok(!row.includes("+"), `listed twice: ${row}`);
  assert.match(listed.at(-1) ?? "", /^cmpb:running$/);

  // The storage fence: host A's MAC gets no answer from the volume, host B's does.
  await hostA.ns.exec("ip", ["link", "set", hostA.aoeIf, "up"]);
  assert.equal(await sees(hostA), false, "the target no longer answers host A's MAC");
  assert.equal(await sees(hostB), true, "host B reaches the volume");
  const fenced = (await lab.call<{ volume: VolumeRecord }>("GET", `/api/v1/volumes/${volume.id}`))
    .body.volume;
  assert.ok(
    fenced.grants.every((g) => hostIds.get(g.hostId) !== "cmpa"),
    `no grant for host A left: ${JSON.stringify(fenced.grants)}`,
  );

  // The HA steps, as `etherplane events` shows them.
  const eventsOut = await cli(["events", "--json", "--limit", "1000"]);
  assert.equal(eventsOut.code, 0, eventsOut.stderr);
  const events = eventsOut.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as EventRecord)
    .filter((e) => e.timeMs >= killedMs);
  const step = (pattern: RegExp, kind = "ha.step") => {
    const found = events.find((e) => e.kind === kind && pattern.test(e.message));
    assert.ok(found, `no ${kind} event matching ${pattern} in:\n${eventsOut.stdout}`);
    return found;
  };
  const lost = step(/host cmpa: lease lost/);
  const requested = step(/host cmpa: fence requested on [1-9]\d* volumes/);
  const confirmed = step(/host cmpa: fence confirmed by storage host sto1/);
  step(/host cmpa: fenced/);
  const placed = step(new RegExp(`domain ${DOMAIN}: placed on cmpb`));
  const startedOnB = events.find(
    (e) => e.kind === "domain.started" && e.subject === DOMAIN && e.fields["host"] === "cmpb",
  );
  assert.ok(startedOnB, `no domain.started on cmpb in:\n${eventsOut.stdout}`);
  assert.ok(lost.timeMs <= requested.timeMs && requested.timeMs <= confirmed.timeMs);
  assert.ok(confirmed.timeMs <= placed.timeMs, "placed only after the fence was confirmed");
  assert.ok(placed.timeMs <= startedOnB.timeMs);
  t.diagnostic(
    `failover after kill -9: lease lost +${lost.timeMs - killedMs} ms, fence requested +${requested.timeMs - killedMs} ms, ` +
      `fence confirmed +${confirmed.timeMs - killedMs} ms, placed +${placed.timeMs - killedMs} ms, ` +
      `started +${startedOnB.timeMs - killedMs} ms, guest marking again +${runningMs - killedMs} ms (TCG boot included); ` +
      `last marker seen on A: ${JSON.stringify(lastOnA)}; ${samples.length} samples, ${listed.length} list samples`,
  );

  // Stop it; /markers holds boot 1's markers 1..k then boot 2's 1..m, and the filesystem is clean.
  const shutdown = await cli(["shutdown", DOMAIN, "--timeout", "60"]);
  assert.equal(shutdown.code, 0, `${shutdown.stderr}\n${lab.logs()}`);
  const volumeFile = path.join(storage.dataDir, "pool", `${volume.id}.img`);
  const markers = (await run("debugfs", ["-R", "cat /markers", volumeFile])).stdout
    .trim()
    .split("\n")
    .map((line) => line.split(" ").map(Number));
  const ofBoot = (boot: number) => markers.filter(([b]) => b === boot).map(([, n]) => n);
  const [first, second] = [ofBoot(1), ofBoot(2)];
  assert.equal(first.length + second.length, markers.length, "only boots 1 and 2 wrote");
  assert.ok(first.length >= 5 && second.length >= 5, `${first.length} + ${second.length} markers`);
  first.forEach((n, i) => assert.equal(n, i + 1, `boot 1, line ${i + 1}`));
  second.forEach((n, i) => assert.equal(n, i + 1, `boot 2, line ${i + 1}`));
  assert.deepEqual(
    markers.slice(0, first.length).map(([b]) => b),
    first.map(() => 1),
    "boot 1's markers all come before boot 2's",
  );
  const fsck = await run("e2fsck", ["-fn", volumeFile]);
  assert.doesNotMatch(fsck.stdout, /UNEXPECTED INCONSISTENCY|Fix\?/);
});
