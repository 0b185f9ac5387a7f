/**
 * The real XenDriver on a real Xen 4.17 host (takes ~3 min under TCG): the Xen host lab boots
 * the hypervisor under QEMU with this Node.js and the repository shared into its PV dom0, and
 * every driver call runs there as `node testing/driver-cli.js` (a new driver instance each time,
 * as after an agent restart), spawning the real `xl`. Tiny PV guests (tiny-pv-guest.ts) run a
 * tick loop or power off by themselves; the console goes through util-linux `script` (shipped
 * into dom0: the lab's dom0 has only flock from util-linux).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { repoRoot } from "../../../test/lab/repo.js";
import {
  prepareXenHost,
  startXenHost,
  type XenHostSession,
} from "../../../test/lab/xen-host/index.js";
import type { ErrorCode } from "../../foundation/errors.js";
import type { GuestInfo, GuestSpec, HypervisorHostInfo } from "../driver.js";
import { prepareTinyPvGuest } from "./testing/tiny-pv-guest.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (QEMU, mknod, /var/cache)" : false;

const cli = join(repoRoot, "dist", "src", "hypervisor", "xen", "testing", "driver-cli.js");
/** xl console takes seconds to start under TCG: give its replay time to arrive (see console()). */
const driverOptions = {
  stateDir: "/tmp/ep-xen",
  scriptPath: "/ep/bin/script",
  consoleAttachWaitMs: 15_000,
};

type Outcome = { ok: true; value: unknown } | { ok: false; code: ErrorCode; message: string };

function value<T>(outcome: Outcome | undefined): T {
  assert.ok(outcome?.ok, `failed: ${JSON.stringify(outcome)}`);
  return outcome.value as T;
}

function failure(outcome: Outcome | undefined, code: ErrorCode): string {
  assert.ok(outcome && !outcome.ok, `succeeded: ${JSON.stringify(outcome)}`);
  assert.equal(outcome.code, code, outcome.message);
  return outcome.message;
}

const names = (outcome: Outcome | undefined) =>
  value<GuestInfo[]>(outcome)
    .map((g) => g.name)
    .sort();
const guest = (outcome: Outcome | undefined, name: string) =>
  value<GuestInfo[]>(outcome).find((g) => g.name === name);

const shellQuote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

void describe("XenDriver on Xen 4.17 (takes ~3 min under TCG)", { skip: notRoot }, () => {
  let host: XenHostSession;

  /** Runs the calls in one node process in dom0 (node starts slowly under TCG). */
  async function batch(...calls: Array<[string, ...unknown[]]>): Promise<Outcome[]> {
    const request = JSON.stringify({
      options: driverOptions,
      calls: calls.map(([call, ...args]) => ({ call, args })),
    });
    const result = await host.exec(`node ${cli} ${shellQuote(request)}`, { timeoutMs: 300_000 });
    const line = result.stdout.trim().split("\n").at(-1) ?? "";
    let outcomes: Outcome[];
    try {
      outcomes = JSON.parse(line) as Outcome[];
    } catch {
      return assert.fail(`driver-cli: exit ${result.code}\n${result.stdout}\n${result.stderr}`);
    }
    assert.equal(outcomes.length, calls.length);
    return outcomes;
  }

  const spec = (name: string, n: number, action: string): GuestSpec => ({
    name,
    uuid: `3d0c5e7a-91b2-4f60-8c1e-${n.toString(16).padStart(12, "0")}`,
    memoryMiB: 128,
    vcpus: 1,
    boot: {
      kind: "kernel",
      // gzip: libxenguest unpacks it in ~2 s, and it is small enough to sit in dom0's RAM.
      kernel: "/ep/vmlinux.gz",
      ramdisk: "/ep/guest.cpio",
      cmdline: `console=hvc0 quiet ep_action=${action} ep_delay_s=1`,
    },
    disks: [],
    vifs: [],
  });
  const runSpec = (): GuestSpec => ({
    ...spec("ep-run", 1, "run"),
    disks: [{ vdev: "xvda", source: { kind: "path", path: "/dev/loop0" }, readOnly: false }],
    vifs: [{ mac: "00:16:3e:3d:00:01", bridge: "xenbr0" }],
    xlConfig: 'name = "ep-run"\nmemory = 64\non_crash = "restart"\nlocaltime = 0\n',
  });

  before(async () => {
    await prepareXenHost();
    const tiny = await prepareTinyPvGuest();
    host = await startXenHost({
      node: true,
      project: true,
      lifetimeMs: 15 * 60_000,
      files: [
        { path: "ep/vmlinux.gz", content: tiny.kernelGz },
        { path: "ep/guest.cpio", content: tiny.initramfs },
        { path: "ep/loop.ko", content: tiny.loopModule },
        { path: "ep/bin/script", content: await readFile("/usr/bin/script"), mode: 0o755 },
      ],
    });
    await host.run(
      "ip link add xenbr0 type bridge && ip link set xenbr0 up && insmod /ep/loop.ko && " +
        "dd if=/dev/zero of=/tmp/disk.img bs=1M count=4 2>/dev/null && losetup /dev/loop0 /tmp/disk.img",
    );
  });

  after(async () => {
    await host?.close();
  });

  void test("hostInfo and list through the real xl", { timeout: 120_000 }, async () => {
    const [hostInfo, list] = await batch(["hostInfo"], ["list"]);
    const info = value<HypervisorHostInfo>(hostInfo);
    assert.equal(info.kind, "xen");
    assert.match(info.version, /^4\.17\.\d+$/);
    assert.equal(info.cpus, 2);
    assert.match(info.detail, /\bpv\b.*scheduler credit2/);
    assert.ok(
      info.freeMemoryMiB > 0 && info.freeMemoryMiB < info.totalMemoryMiB,
      JSON.stringify(info),
    );
    assert.deepEqual(
      value<GuestInfo[]>(list).map((g) => [g.name, g.domid, g.state.running, g.exit]),
      [["Domain-0", 0, true, null]],
    );
  });

  void test(
    "create runs the guest, a new driver finds it, the name is then taken",
    { timeout: 240_000 },
    async () => {
      const [create, list, again] = await batch(
        ["create", runSpec()],
        ["list"],
        ["create", runSpec()],
      );
      const created = value<GuestInfo>(create);
      assert.equal(created.name, "ep-run");
      assert.equal(created.uuid, runSpec().uuid);
      assert.equal(created.memoryMiB, 128);
      assert.equal(created.exit, null);
      assert.ok(created.domid > 0);
      const found = guest(list, "ep-run");
      assert.deepEqual(
        [found?.domid, found?.uuid, found?.state.shutdown],
        [created.domid, created.uuid, false],
      );
      failure(again, "CONFLICT");
      const files = await host.run("ls /tmp/ep-xen; grep -c preserve /tmp/ep-xen/ep-run.cfg");
      assert.equal(
        files,
        "ep-run.cfg\n4\n",
        "the config kept, four preserve actions, no .new left",
      );
    },
  );

  void test("failed creates leave nothing behind", { timeout: 180_000 }, async () => {
    const disk = (path: string) => ({
      vdev: "xvda",
      readOnly: false,
      source: { kind: "path", path },
    });
    const [nbd, big, noDisk, list] = await batch(
      [
        "create",
        {
          ...spec("ep-nbd", 9, "run"),
          disks: [{ ...disk(""), source: { kind: "nbd", socketPath: "/run/x.sock" } }],
        },
      ],
      ["create", { ...spec("ep-big", 10, "run"), memoryMiB: 4096 }],
      ["create", { ...spec("ep-nodisk", 11, "run"), disks: [disk("/dev/etherd/e9.9")] }],
      ["list"],
    );
    assert.match(failure(nbd, "UNAVAILABLE"), /aoe module/);
    assert.match(failure(big, "UNAVAILABLE"), /not enough free memory/);
    assert.match(failure(noDisk, "UNAVAILABLE"), /\/dev\/etherd\/e9\.9 does not exist/);
    assert.deepEqual(names(list), ["Domain-0", "ep-run"]);
    assert.equal(await host.run("ls /tmp/ep-xen"), "ep-run.cfg\n");
  });

  void test(
    "console: history from xenconsoled's log, input reaches the guest, sessions share it",
    { timeout: 180_000 },
    async () => {
      await host.run(
        "n=0; until grep -q 'tick 2' /var/log/xen/console/guest-ep-run.log; do " +
          "n=$((n + 1)); [ $n -lt 120 ] || exit 1; sleep 0.5; done",
      );
      const [outcome] = await batch(["consoleExchange", "ep-run", "hello-driver\r", 4000]);
      const exchange = value<{
        history: string;
        secondHistoryBytes: number;
        first: string;
        second: string;
      }>(outcome);
      assert.match(exchange.history, /tiny-pv up action=run/);
      assert.ok(exchange.secondHistoryBytes > 0);
      assert.match(exchange.first, /echo:hello-driver/);
      assert.match(exchange.second, /echo:hello-driver/, "the second session sees the same output");
      assert.doesNotMatch(
        exchange.first,
        /tiny-pv up/,
        "the boot line is history, not live output",
      );
    },
  );

  void test("pause and unpause are idempotent", { timeout: 180_000 }, async () => {
    const outcomes = await batch(
      ["pause", "ep-run"],
      ["pause", "ep-run"],
      ["list"],
      ["unpause", "ep-run"],
      ["list"],
      ["unpause", "ep-run"],
    );
    for (const outcome of outcomes) value(outcome);
    assert.equal(guest(outcomes[2], "ep-run")?.state.paused, true);
    assert.equal(
      guest(outcomes[4], "ep-run")?.state.paused,
      false,
      "one unpause undoes both pauses: the second pause was not sent",
    );
  });

  void test(
    "a guest that powers off by itself stays listed with its exit",
    { timeout: 240_000 },
    async () => {
      // Reboot and crash exits come from the same reason codes: xl-list.test.ts has them, real.
      const [create, wait, reboot, shutdown] = await batch(
        ["create", spec("ep-poweroff", 2, "poweroff")],
        ["waitForExit", "ep-poweroff", 120_000],
        ["reboot", "ep-poweroff"],
        ["shutdown", "ep-poweroff"], // already off: nothing to ask
      );
      value(create);
      const off = value<GuestInfo>(wait);
      assert.equal(off.exit, "poweroff");
      assert.equal(off.state.shutdown, true);
      assert.match(failure(reboot, "CONFLICT"), /is shut down \(poweroff\)/);
      value(shutdown);
    },
  );

  void test("shutdown asks the guest; it stays until destroy", { timeout: 240_000 }, async () => {
    const [shutdown, wait, destroyRun, destroyOff, list, again, unknown, digits] = await batch(
      ["shutdown", "ep-run"],
      ["waitForExit", "ep-run", 120_000],
      ["destroy", "ep-run"],
      ["destroy", "ep-poweroff"],
      ["list"],
      ["destroy", "ep-run"],
      ["shutdown", "nosuch"],
      ["pause", "12"],
    );
    value(shutdown);
    assert.equal(value<GuestInfo>(wait).exit, "poweroff");
    value(destroyRun);
    value(destroyOff);
    assert.deepEqual(names(list), ["Domain-0"]);
    assert.equal(await host.run("ls /tmp/ep-xen"), "", "destroy removes the config");
    failure(again, "NOT_FOUND");
    failure(unknown, "NOT_FOUND");
    failure(digits, "INVALID_ARGUMENT");
  });
});
