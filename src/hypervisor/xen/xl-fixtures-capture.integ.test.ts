/**
 * Captures test/fixtures/xl/guests/ (opt-in: takes ~3 min under TCG, so it runs only with
 * EP_XL_FIXTURES_OUT=<folder>; xen-driver.integ.test.ts is the routine real test).
 *
 * The xen driver's pieces against the real `xl` of Xen 4.17: the Xen
 * host lab boots the hypervisor under QEMU with a PV dom0, and dom0 creates tiny PV guests
 * from xl.cfg files that buildGuestXlConfig wrote, lets three of them power off, reboot and
 * crash by themselves, pauses and shuts down the fourth, and tries the failures the driver maps
 * (name taken, missing bridge, missing disk, too much memory, unknown guest). Node cannot run
 * in the lab's dom0, so the driver's commands run there as a shell script and their outputs come
 * back to the parsers and the error mapping here.
 *
 * It writes what it captured to EP_XL_FIXTURES_OUT: that is how test/fixtures/xl/guests/ was
 * made.
 */
import type { ChildProcess } from "node:child_process";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bootXenHost, prepareXenHost } from "../../../test/lab/xen-host/index.js";
import type { GuestSpec } from "../driver.js";
import { buildGuestXlConfig } from "./guest-config.js";
import {
  captureScript,
  splitCaptures,
  type Dom0Capture,
  type Dom0Step,
} from "./testing/dom0-capture.js";
import { prepareTinyPvGuest, type TinyPvGuestImage } from "./testing/tiny-pv-guest.js";
import { toGuestInfo } from "./guest-info.js";
import { xlFailure } from "./xl-errors.js";
import { parseXlInfo } from "./xl-info.js";
import { parseXlListLong } from "./xl-list-long.js";
import { parseXlList } from "./xl-list.js";

const uuid = (n: number) => `6f1c2a40-5b7e-4c1d-9a2e-${n.toString(16).padStart(12, "0")}`;

function tinySpec(name: string, n: number, cmdline: string): GuestSpec {
  return {
    name,
    uuid: uuid(n),
    memoryMiB: 128,
    vcpus: 1,
    boot: { kind: "kernel", kernel: "/ep/vmlinux.gz", ramdisk: "/ep/guest.cpio", cmdline },
    disks: [],
    vifs: [],
  };
}

/** The administrator's file: keys the spec overrides, one it drops, ones it must keep. */
const adminFile = `name = "old-name"
type = "pv"
memory = 64
maxmem = 96
vcpus = 2
localtime = 0
bootloader = "pygrub"
vif = [ 'mac=00:16:3E:E0:00:01, bridge=xenbr9, rate=10Mb/s' ]
on_crash = "restart"
`;

const runSpec: GuestSpec = {
  ...tinySpec("ep-run", 1, "console=hvc0 quiet ep_action=run"),
  disks: [{ vdev: "xvda", source: { kind: "path", path: "/dev/loop0" }, readOnly: false }],
  vifs: [{ mac: "00:16:3e:e0:00:01", bridge: "xenbr0" }],
  xlConfig: adminFile,
};
const selfStopping = ["poweroff", "reboot", "crash"] as const;
const stopSpecs = selfStopping.map((action, i) =>
  tinySpec(`ep-${action}`, 2 + i, `console=hvc0 quiet ep_action=${action} ep_delay_s=2`),
);
const errorSpecs = {
  "ep-nobridge": {
    ...runSpec,
    name: "ep-nobridge",
    uuid: uuid(10),
    xlConfig: undefined,
    disks: [],
    vifs: [{ mac: "00:16:3e:e0:00:0a", bridge: "nosuchbr0" }],
  },
  "ep-nodisk": {
    ...tinySpec("ep-nodisk", 11, "console=hvc0"),
    disks: [{ vdev: "xvda", source: { kind: "path", path: "/dev/etherd/e9.9" }, readOnly: false }],
  },
  "ep-big": { ...tinySpec("ep-big", 12, "console=hvc0"), memoryMiB: 4096 },
} satisfies Record<string, GuestSpec>;

const shutDown = (name: string) => `xl list "${name}" 2>/dev/null | grep -q -- '---s'`;

const outDir = process.env["EP_XL_FIXTURES_OUT"];
const skip =
  process.getuid?.() !== 0
    ? "needs root (mknod for the initramfs, /var/cache)"
    : outDir === undefined
      ? "by design: fixture capture is opt-in; set EP_XL_FIXTURES_OUT=<folder> to run it"
      : false;

function dom0Steps(): Dom0Step[] {
  const shell = (command: string): Dom0Step => ({ kind: "shell", command });
  const capture = (name: string, command: string): Dom0Step => ({ kind: "capture", name, command });
  const stoppers = stopSpecs.map((spec) => spec.name);
  return [
    // xenconsole locks /var/lock/xenconsole.<domid>; the lab's dom0 has no /var/lock.
    shell("mkdir -p /var/lock"),
    shell("ip link add xenbr0 type bridge && ip link set xenbr0 up"),
    shell("insmod /ep/loop.ko && dd if=/dev/zero of=/tmp/disk.img bs=1M count=4 2>/dev/null"),
    shell("losetup /dev/loop0 /tmp/disk.img"),
    capture("xl-create", "xl create -q /ep/cfg/ep-run.cfg"),
    ...stopSpecs.map((spec) =>
      capture(`xl-create-${spec.name}`, `xl create -q /ep/cfg/${spec.name}.cfg`),
    ),
    capture("xl-create-name-taken", "xl create -q /ep/cfg/ep-run.cfg"),
    // ~45 s of hotplug scripts under TCG before xl gives up.
    capture("xl-create-no-bridge", "xl create -q /ep/cfg/ep-nobridge.cfg"),
    capture("xl-create-no-disk", "xl create -q /ep/cfg/ep-nodisk.cfg"),
    capture("xl-create-no-memory", "xl create -q /ep/cfg/ep-big.cfg"),
    capture("xl-list-v-unknown", "xl list -v nosuch"),
    capture("xl-shutdown-unknown", "xl shutdown -F nosuch"),
    capture("xl-destroy-unknown", "xl destroy nosuch"),
    capture("xl-console-unknown", "xl console nosuch </dev/null"),
    shell(
      `n=0; until { ${stoppers.map(shutDown).join(" && ")}; } && ` +
        "grep -q 'tick 3' /var/log/xen/console/guest-ep-run.log 2>/dev/null; do " +
        "n=$((n + 1)); [ $n -lt 240 ] || break; sleep 0.5; done",
    ),
    // What the driver runs: xenconsole forwards input only from a terminal, which script gives
    // it; the guest echoes the line back. SIGTERM ends it, as the driver's console close does.
    capture(
      "xl-console",
      "(sleep 2; echo hello-console; sleep 4) | timeout -s TERM 8 /ep/bin/script -q -e -c 'xl console ep-run' /dev/null",
    ),
    capture(
      "xl-console-script-unknown",
      "/ep/bin/script -q -e -c 'xl console nosuch' /dev/null </dev/null",
    ),
    capture("xl-pause", "xl pause ep-run"),
    capture("xl-list-v", "xl list -v"),
    capture("xl-list", "xl list"),
    capture("xl-list-l", "xl list -l"),
    capture("xl-list-v-one", "xl list -v ep-run"),
    capture("xl-info", "xl info"),
    capture("xl-unpause", "xl unpause ep-run"),
    capture("xl-shutdown", "xl shutdown -F ep-run"),
    shell(
      `n=0; until ${shutDown("ep-run")}; do n=$((n + 1)); [ $n -lt 120 ] || break; sleep 0.5; done`,
    ),
    capture("xl-list-v-after-shutdown", "xl list -v"),
    capture("xl-destroy", "xl destroy ep-run"),
    ...stopSpecs.map((spec) => shell(`xl destroy ${spec.name}`)),
    capture("xl-list-v-end", "xl list -v"),
    capture("console-log-ep-poweroff", "cat /var/log/xen/console/guest-ep-poweroff.log"),
  ];
}

void describe("xl fixtures from a real Xen 4.17 dom0 (~3 min under TCG)", { skip }, () => {
  const children: ChildProcess[] = [];
  let guest: TinyPvGuestImage;
  let captures: Map<string, Dom0Capture>;
  const get = (name: string): Dom0Capture => {
    const capture = captures.get(name);
    assert.ok(capture, `no capture ${name}`);
    return capture;
  };

  before(async () => {
    // Cold caches download and build; that is not part of what the test measures.
    await prepareXenHost();
    guest = await prepareTinyPvGuest();
  });

  after(() => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  void test(
    "dom0 runs the driver's xl commands on guests it wrote the xl.cfg of",
    { timeout: 240_000 },
    async (t) => {
      const specs = [runSpec, ...stopSpecs, ...Object.values(errorSpecs)];
      const result = await bootXenHost({
        script: captureScript(dom0Steps()),
        timeoutMs: 220_000,
        onSpawn: (child) => children.push(child),
        files: [
          { path: "ep/vmlinux.gz", content: guest.kernelGz },
          { path: "ep/guest.cpio", content: guest.initramfs },
          { path: "ep/loop.ko", content: guest.loopModule },
          // util-linux's script (libc only); the lab's dom0 has just flock from util-linux.
          { path: "ep/bin/script", content: await readFile("/usr/bin/script"), mode: 0o755 },
          ...specs.map((spec) => ({
            path: `ep/cfg/${spec.name}.cfg`,
            content: buildGuestXlConfig(spec),
          })),
        ],
      });
      t.diagnostic(`Xen host ${result.elapsedMs} ms`);
      assert.equal(result.exitCode, 0, result.console.slice(-4000));
      captures = splitCaptures(result.lines);
      for (const [name, capture] of captures)
        t.diagnostic(`${name}: exit ${capture.code}, ${capture.seconds.toFixed(1)} s`);

      if (outDir) await writeFixtures(outDir, captures);
    },
  );

  void test("xl accepts the files the driver writes", () => {
    for (const name of ["xl-create", ...stopSpecs.map((s) => `xl-create-${s.name}`)]) {
      const capture = get(name);
      assert.equal(capture.code, 0, `${name}: ${capture.stderr}`);
    }
  });

  void test("xl list -v: uuids, paused, and the exit of each guest that stopped by itself", () => {
    const guests = new Map(
      parseXlList(get("xl-list-v").stdout).map((row) => [row.name, toGuestInfo(row)]),
    );
    assert.deepEqual([...guests.keys()].sort(), [
      "Domain-0",
      "ep-crash",
      "ep-poweroff",
      "ep-reboot",
      "ep-run",
    ]);
    assert.equal(guests.get("Domain-0")?.domid, 0);
    const run = guests.get("ep-run");
    assert.equal(run?.uuid, runSpec.uuid);
    assert.equal(run?.memoryMiB, 128);
    assert.equal(run?.state.paused, true);
    assert.equal(run?.exit, null);
    for (const [i, action] of selfStopping.entries()) {
      const info = guests.get(`ep-${action}`);
      assert.equal(info?.uuid, stopSpecs[i]?.uuid);
      assert.equal(info?.state.shutdown, true, `ep-${action} did not stop by itself`);
      assert.equal(info?.exit, action === "crash" ? "crash" : action);
      assert.equal(info?.state.crashed, action === "crash");
    }
    // Plain `xl list` tells the same from its State letters alone (r and b come and go).
    const plain = new Map(parseXlList(get("xl-list").stdout).map((row) => [row.name, row]));
    for (const [name, info] of guests) {
      const row = plain.get(name);
      assert.deepEqual(
        [row?.state.paused, row?.state.shutdown, row?.state.crashed, row?.exit],
        [info.state.paused, info.state.shutdown, info.state.crashed, info.exit],
        name,
      );
    }
    const one = parseXlList(get("xl-list-v-one").stdout);
    assert.deepEqual(
      one.map((row) => row.name),
      ["ep-run"],
    );
  });

  void test("a shutdown request leaves the guest listed with exit poweroff", () => {
    assert.equal(get("xl-shutdown").code, 0, get("xl-shutdown").stderr);
    const run = parseXlList(get("xl-list-v-after-shutdown").stdout).find(
      (r) => r.name === "ep-run",
    );
    assert.equal(run?.exit, "poweroff");
    assert.equal(run?.shutdownReason, 0);
    assert.equal(get("xl-destroy").code, 0);
    assert.deepEqual(
      parseXlList(get("xl-list-v-end").stdout).map((r) => r.name),
      ["Domain-0"],
    );
  });

  void test("xl list -l shows the spec and the administrator's kept keys", () => {
    const text = get("xl-list-l").stdout;
    const run = parseXlListLong(text).find((d) => d.name === "ep-run");
    assert.ok(run);
    assert.equal(run.uuid, runSpec.uuid);
    assert.equal(run.maxMemoryMiB, 128, "maxmem below memory was dropped");
    assert.equal(run.maxVcpus, 1);
    assert.equal(run.cmdline, "console=hvc0 quiet ep_action=run");
    assert.deepEqual(run.disks, [{ vdev: "xvda", target: "/dev/loop0", readOnly: false }]);
    assert.deepEqual(run.nics, [{ mac: "00:16:3e:e0:00:01", bridge: "xenbr0" }]);
    assert.deepEqual(
      [run.onPoweroff, run.onReboot, run.onCrash, run.onWatchdog],
      ["preserve", "preserve", "preserve", "preserve"],
    );
    // rate=10Mb/s came from the administrator's vif of the same MAC.
    const raw = JSON.parse(text) as Array<{
      config: { c_info: { name: string }; nics?: Array<Record<string, unknown>> };
    }>;
    const nic = raw.find((d) => d.config.c_info.name === "ep-run")?.config.nics?.[0];
    assert.ok(nic && typeof nic["rate_bytes_per_interval"] === "number", JSON.stringify(nic));
  });

  void test("xl info gives the host's size", () => {
    const info = parseXlInfo(get("xl-info").stdout);
    assert.match(info.xenVersion, /^4\.17\./);
    assert.equal(info.nrCpus, 2);
    assert.ok(
      info.freeMemoryMiB < info.totalMemoryMiB - 512 - 4 * 128,
      `${info.freeMemoryMiB} MiB free`,
    );
  });

  void test("xl's failures map to the driver's error codes", () => {
    const code = (name: string, subject: string) => {
      const capture = get(name);
      assert.notEqual(capture.code, 0, `${name} succeeded: ${capture.stdout}`);
      return xlFailure(["xl"], capture, subject).code;
    };
    assert.equal(code("xl-create-name-taken", "ep-run"), "CONFLICT");
    assert.equal(code("xl-create-no-bridge", "ep-nobridge"), "UNAVAILABLE");
    assert.equal(code("xl-create-no-disk", "ep-nodisk"), "UNAVAILABLE");
    assert.equal(code("xl-create-no-memory", "ep-big"), "UNAVAILABLE");
    for (const name of [
      "xl-list-v-unknown",
      "xl-shutdown-unknown",
      "xl-destroy-unknown",
      "xl-console-unknown",
    ]) {
      assert.equal(code(name, "nosuch"), "NOT_FOUND", name);
    }
    // The failed creates left nothing behind: the end list holds Domain-0 only (checked above).
  });

  void test("xl console carries input to the guest and its output back", () => {
    const text = get("xl-console").stdout;
    assert.match(text, /echo:hello-console/);
    assert.match(text, /tick \d+/);
    assert.match(get("console-log-ep-poweroff").stdout, /tiny-pv up action=poweroff/);
  });
});

async function writeFixtures(dir: string, captures: Map<string, Dom0Capture>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const index: Record<string, { code: number; seconds: number }> = {};
  for (const [name, capture] of captures) {
    index[name] = { code: capture.code, seconds: Number(capture.seconds.toFixed(1)) };
    const ext = name === "xl-list-l" ? "json" : "txt";
    if (capture.stdout !== "") await writeFile(join(dir, `${name}.${ext}`), capture.stdout);
    if (capture.stderr !== "") await writeFile(join(dir, `${name}.stderr.txt`), capture.stderr);
  }
  await writeFile(join(dir, "captures.json"), JSON.stringify(index, null, 2) + "\n");
  await writeFile(join(dir, "ep-run.cfg"), buildGuestXlConfig(runSpec));
}
