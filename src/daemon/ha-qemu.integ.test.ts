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
 * are whole and e2fsck finds nothing.
 *
 * Freeze and thaw: host A comes back (links up, agent restarted) and is taken back; every process
 * of host B (agent, QEMU, disk bridge) is stopped with SIGSTOP; the domain must run on host A
 * after the fence; on SIGCONT host B's agent must destroy its stale guest (self-fencing), and the
 * volume must hold none of the markers that guest wrote after it was frozen.
 *
 * The measured detection, fence, placement and start times are reported as diagnostics, never
 * asserted (a loaded 2-core machine).
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
} from "../cluster/model.js";
import { buildRootFsImage, domainGuestKit } from "../../test/lab/domain-guest/index.js";
import { ClusterLab, type StorageHost } from "../../test/lab/cluster-lab.js";
import { runCli } from "../../test/lab/cli-process.js";
import {
  agentDir,
  copies,
  diskBridgePids,
  guestRunDir,
  hostPids,
  processesNaming,
  qemuPids,
  running,
  signalAll,
} from "../../test/lab/host-processes.js";
import { run } from "../../test/lab/netns.js";

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

test("HA under QEMU/TCG: power loss, then freeze and thaw, of the running host: the domain runs on the other host, once, after the storage fenced the old one (several minutes)", async (t) => {
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
    readOr(path.join(guestRunDir(host, DOMAIN), "console.log"), "");
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

  const guestWords = [`guest=${DOMAIN},`];
  const agents = () =>
    [hostA, hostB].map((h) => h.agent?.child.pid).filter((p): p is number => p !== undefined);
  /** Samples every SAMPLE_MS (API record, both hosts' QEMUs) and `list --json` every second. */
  const startSampling = () => {
    const samples: Sample[] = [];
    const listed: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const atMs = Date.now();
        const qemu = {
          cmpa: copies(processesNaming(agentDir(hostA), "qemu-system", guestWords), agents()),
          cmpb: copies(processesNaming(agentDir(hostB), "qemu-system", guestWords), agents()),
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
    const stop = async () => {
      sampling = false;
      await Promise.all([sampler, lister]);
    };
    t.after(stop);
    return { samples, listed, stop };
  };
  /** `etherplane events --json` since `sinceMs`, and a finder of one step by kind and message. */
  const eventsSince = async (sinceMs: number) => {
    const out = await cli(["events", "--json", "--limit", "1000"]);
    assert.equal(out.code, 0, out.stderr);
    const events = out.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as EventRecord)
      .filter((e) => e.timeMs >= sinceMs);
    const step = (pattern: RegExp, kind = "ha.step") => {
      const found = events.find((e) => e.kind === kind && pattern.test(e.message));
      assert.ok(found, `no ${kind} event matching ${pattern} in:\n${out.stdout}`);
      return found;
    };
    const started = (host: string) => {
      const found = events.find(
        (e) => e.kind === "domain.started" && e.subject === DOMAIN && e.fields["host"] === host,
      );
      assert.ok(found, `no domain.started on ${host} in:\n${out.stdout}`);
      return found;
    };
    return { step, started };
  };
  const hostState = async (name: string) =>
    (
      await lab.call<{ hosts: Array<HostRecord & { state?: string }> }>("GET", "/api/v1/hosts")
    ).body.hosts.find((h) => h.name === name)?.state;
  /** Boot 2's markers the old guest on host B had acked when it was frozen (freeze and thaw). */
  let bootTwoMarksMax: number | undefined;
  let powerLossPassed = false;

  await t.test(
    "power loss: kill -9 of host A's agent, QEMU and disk bridge, links down",
    async (st) => {
      const { samples, listed, stop } = startSampling();
      // Everything at once, by PID; then its links go down.
      const qemuA = qemuPids(hostA);
      const bridgesA = diskBridgePids(hostA);
      assert.equal(qemuA.length, 1, "one QEMU on host A");
      assert.equal(bridgesA.length, 1, "one disk bridge on host A");
      const agentA = hostA.agent?.child.pid;
      assert.ok(agentA !== undefined);
      const killedMs = Date.now();
      assert.equal(signalAll([agentA, ...qemuA, ...bridgesA], "SIGKILL").length, 3);
      await hostA.ns.exec("ip", ["link", "set", hostA.aoeIf, "down"]);
      await hostA.ns.exec("ip", ["link", "set", "mgmt0", "down"]);
      await hostA.agent?.wait();
      await lab.waitFor("host A's processes to be gone", 30_000, () => {
        const left = [...processesNaming(agentDir(hostA), "qemu-system"), ...diskBridgePids(hostA)];
        return left.length === 0 ? null : `still running: ${left.join(",")}`;
      });
      const lastOnA = lastMark(consoleLog(hostA));

      await lab.waitFor("the guest's markers on host B", FAILOVER_MS_MAX, () => {
        const mark = lastMark(consoleLog(hostB));
        return mark && mark[0] === 2 && mark[1] >= 5 ? null : consoleLog(hostB).slice(-300);
      });
      const runningMs = Date.now();
      // A few more samples of the settled state.
      await new Promise((r) => setTimeout(r, 3 * LIST_SAMPLE_MS));
      await stop();

      const record = await domain();
      assert.equal(hostIds.get(record.hostId ?? ""), "cmpb", "the record says it runs on host B");
      assert.equal(record.observed?.state, "running");
      assert.equal(qemuPids(hostB).length, 1, "host B runs its QEMU");
      assert.equal(processesNaming(agentDir(hostA), "qemu-system").length, 0, "host A runs none");
      assert.equal(await hostState("cmpa"), "fenced");

      // Exactly once: never a QEMU on both hosts, never a second copy on one.
      assert.ok(samples.length > 20, `${samples.length} samples`);
      for (const s of samples) {
        const copies = (s.qemu["cmpa"] ?? 0) + (s.qemu["cmpb"] ?? 0);
        assert.ok(copies <= 1, `two copies at ${s.atMs - killedMs} ms: ${JSON.stringify(s)}`);
      }
      assert.ok(
        samples.filter((s) => s.atMs > killedMs + 1000).every((s) => (s.qemu["cmpa"] ?? 0) === 0),
        "no QEMU on host A after the power loss",
      );
      assert.ok(listed.length >= 3, `${listed.length} list samples`);
      for (const row of listed) assert.ok(!row.includes("+"), `listed twice: ${row}`);
      assert.match(listed.at(-1) ?? "", /^cmpb:running$/);

      // The storage fence: host A's MAC gets no answer from the volume, host B's does.
      await hostA.ns.exec("ip", ["link", "set", hostA.aoeIf, "up"]);
      assert.equal(await sees(hostA), false, "the target no longer answers host A's MAC");
      assert.equal(await sees(hostB), true, "host B reaches the volume");
      const fenced = (
        await lab.call<{ volume: VolumeRecord }>("GET", `/api/v1/volumes/${volume.id}`)
      ).body.volume;
      assert.ok(
        fenced.grants.every((g) => hostIds.get(g.hostId) !== "cmpa"),
        `no grant for host A left: ${JSON.stringify(fenced.grants)}`,
      );

      // The HA steps, as `etherplane events` shows them, in order.
      const { step, started: startedOn } = await eventsSince(killedMs);
      const lost = step(/host cmpa: lease lost/);
      const requested = step(/host cmpa: fence requested on [1-9]\d* volumes/);
      const confirmed = step(/host cmpa: fence confirmed by storage host sto1/);
      step(/host cmpa: fenced/);
      const placed = step(new RegExp(`domain ${DOMAIN}: placed on cmpb`));
      const startedOnB = startedOn("cmpb");
      assert.ok(lost.timeMs <= requested.timeMs && requested.timeMs <= confirmed.timeMs);
      assert.ok(confirmed.timeMs <= placed.timeMs, "placed only after the fence was confirmed");
      assert.ok(placed.timeMs <= startedOnB.timeMs);
      st.diagnostic(
        `failover after kill -9: lease lost +${lost.timeMs - killedMs} ms, fence requested +${requested.timeMs - killedMs} ms, ` +
          `fence confirmed +${confirmed.timeMs - killedMs} ms, placed +${placed.timeMs - killedMs} ms, ` +
          `started +${startedOnB.timeMs - killedMs} ms, guest marking again +${runningMs - killedMs} ms (TCG boot included); ` +
          `last marker seen on A: ${JSON.stringify(lastOnA)}; ${samples.length} samples, ${listed.length} list samples`,
      );
      powerLossPassed = true;
    },
  );

  await t.test(
    "freeze and thaw: SIGSTOP of every process of host B, failover to A, SIGCONT",
    async (st) => {
      if (!powerLossPassed) return st.skip("the power loss failed: nothing runs on host B");
      // Host A comes back (links up, agent restarted): the controller takes it back once none of
      // its HA domains waits; its agent clears what is left of its dead guest.
      await hostA.ns.exec("ip", ["link", "set", "mgmt0", "up"]);
      await lab.startAgent(hostA);
      await lab.waitFor("host A up again", 60_000, async () => {
        const state = await hostState("cmpa");
        return state === "up" ? null : `${state}`;
      });
      const { listed, stop } = startSampling();
      const pidsB = hostPids(hostB);
      assert.equal(pidsB.length, 3, "host B's agent, QEMU and disk bridge");
      const qemuB = qemuPids(hostB);
      const frozenMs = Date.now();
      assert.equal(signalAll(pidsB, "SIGSTOP").length, 3);
      const lastBeforeFreeze = lastMark(consoleLog(hostB));
      assert.ok(lastBeforeFreeze && lastBeforeFreeze[0] === 2);
      // The marker being written when it stopped may have reached the volume, no later one.
      bootTwoMarksMax = lastBeforeFreeze[1] + 1;

      await lab.waitFor("the guest's markers on host A", FAILOVER_MS_MAX, () => {
        const mark = lastMark(consoleLog(hostA));
        return mark && mark[0] === 3 && mark[1] >= 5 ? null : consoleLog(hostA).slice(-300);
      });
      const runningMs = Date.now();
      assert.equal(await hostState("cmpb"), "fenced");
      assert.equal(await sees(hostB), false, "the target no longer answers host B's MAC");

      // Thaw: the old guest runs again for a moment; its agent must destroy it.
      const thawedMs = Date.now();
      signalAll(pidsB, "SIGCONT");
      await lab.waitFor("host B's agent to destroy its stale guest", 60_000, () => {
        const left = qemuB.filter((pid) => running(pid));
        return left.length === 0 ? null : `QEMU ${left.join(",")} still runs`;
      });
      const destroyedMs = Date.now();
      assert.match(hostB.agent?.stderr ?? "", /self-fencing/);
      await new Promise((r) => setTimeout(r, 3 * LIST_SAMPLE_MS));
      await stop();
      for (const row of listed) assert.ok(!row.includes("+"), `listed twice: ${row}`);
      assert.match(listed.at(-1) ?? "", /^cmpa:running$/);
      assert.equal(hostIds.get((await domain()).hostId ?? ""), "cmpa");
      assert.equal(qemuPids(hostA).length, 1, "host A runs the guest");
      const afterThaw = [...consoleLog(hostB).matchAll(/EP-MARK 2 (\d+)/g)].filter(
        (m) => Number(m[1]) > lastBeforeFreeze[1],
      ).length;

      const { step, started: startedOn } = await eventsSince(frozenMs);
      const lost = step(/host cmpb: lease lost/);
      const confirmed = step(/host cmpb: fence confirmed by storage host sto1/);
      const placed = step(new RegExp(`domain ${DOMAIN}: placed on cmpa`));
      const startedOnA = startedOn("cmpa");
      assert.ok(confirmed.timeMs <= placed.timeMs, "placed only after the fence was confirmed");
      st.diagnostic(
        `failover after SIGSTOP: lease lost +${lost.timeMs - frozenMs} ms, fence confirmed +${confirmed.timeMs - frozenMs} ms, ` +
          `placed +${placed.timeMs - frozenMs} ms, started +${startedOnA.timeMs - frozenMs} ms, marking again +${runningMs - frozenMs} ms; ` +
          `after SIGCONT the stale guest ran ${destroyedMs - thawedMs} ms and printed ${afterThaw} more markers (fenced)`,
      );
      // What host B's agent said after the thaw (why destroying the stale guest took that long).
      const said = (hostB.agent?.stderr ?? "")
        .split("\n")
        .filter((line) => /self-fenc|stalled|destroy|did not quit|QMP/.test(line))
        .slice(-8);
      st.diagnostic(`host B's agent after the thaw: ${said.join(" | ")}`);
    },
  );

  // Stop it; /markers holds boot 1's markers 1..k then boot 2's 1..m, and the filesystem is clean.
  const shutdown = await cli(["shutdown", DOMAIN, "--timeout", "60"]);
  assert.equal(shutdown.code, 0, `${shutdown.stderr}\n${lab.logs()}`);
  const volumeFile = path.join(storage.dataDir, "pool", `${volume.id}.img`);
  const markers = (await run("debugfs", ["-R", "cat /markers", volumeFile])).stdout
    .trim()
    .split("\n")
    .map((line, i): [number, number] => {
      const match = /^(\d+) (\d+)$/.exec(line);
      assert.ok(match, `/markers line ${i + 1} is torn: ${JSON.stringify(line)}`);
      return [Number(match[1]), Number(match[2])];
    });
  const ofBoot = (boot: number) => markers.filter(([b]) => b === boot).map(([, n]) => n);
  const boots = markers.map(([b]) => b);
  // Boot 1 on A, boot 2 on B after the power loss, boot 3 on A after the freeze; each boot's
  // markers in one run after the previous boot's (an old guest writing late would interleave).
  assert.deepEqual([...new Set(boots)], bootTwoMarksMax === undefined ? [1, 2] : [1, 2, 3]);
  for (const boot of new Set(boots)) {
    const marks = ofBoot(boot);
    assert.ok(marks.length >= 5, `boot ${boot}: ${marks.length} markers`);
    marks.forEach((n, i) => assert.equal(n, i + 1, `boot ${boot}, marker ${i + 1}`));
    const from = boots.indexOf(boot);
    assert.ok(
      boots.slice(from, from + marks.length).every((b) => b === boot),
      `boot ${boot}'s markers are not in one run`,
    );
  }
  if (bootTwoMarksMax !== undefined)
    assert.ok(
      ofBoot(2).length <= bootTwoMarksMax,
      `the frozen guest had ${bootTwoMarksMax - 1} markers acked, the volume holds ${ofBoot(2).length}: a write got past the fence`,
    );
  const fsck = await run("e2fsck", ["-fn", volumeFile]);
  assert.doesNotMatch(fsck.stdout, /UNEXPECTED INCONSISTENCY|Fix\?/);
});
