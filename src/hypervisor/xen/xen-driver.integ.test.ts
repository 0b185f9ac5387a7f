/**
 * The xen driver on a real Xen 4.17 host (takes ~3 min under TCG): the Xen host lab boots the
 * hypervisor under QEMU with this Node.js and the repository copied into its PV dom0, where the
 * driver spawns the real `xl`.
 *
 * 1. dom0 runs the shared HypervisorDriver contract (testing/xen-contract-in-dom0.ts) with
 *    `node --test`, on the domain guest kit's console guests booted as PV guests.
 * 2. The xen driver's own cases run as batches of `node testing/driver-cli.js` calls (a new
 *    driver instance for every call, as after an agent restart) on tiny PV guests
 *    (tiny-pv-guest.ts): an administrator's xl.cfg merged with the spec and a `phy:` disk, the
 *    failures that must leave nothing, the console's history not replayed as live output,
 *    idempotent pause, and requests to a guest that is already shut down.
 *
 * The console goes through util-linux `script`, shipped into dom0 (whose util-linux is flock).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { domainGuestKit } from "../../../test/lab/domain-guest/index.js";
import { repoRoot } from "../../../test/lab/repo.js";
import {
  dom0ProjectPath,
  prepareXenHost,
  startXenHost,
  type XenHostSession,
} from "../../../test/lab/xen-host/index.js";
import type { ErrorCode } from "../../foundation/errors.js";
import type { GuestInfo, GuestSpec } from "../driver.js";
import { prepareTinyPvGuest } from "./testing/tiny-pv-guest.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (QEMU, mknod, /var/cache)" : false;

const testing = dom0ProjectPath(join(repoRoot, "dist", "src", "hypervisor", "xen", "testing"));
/** xl console takes seconds to start under TCG: give its replay time to arrive (see console()). */
const driverOptions = {
  stateDir: "/tmp/ep-xen",
  scriptPath: "/ep/bin/script",
  consoleAttachWaitMs: 60_000,
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

const guest = (outcome: Outcome | undefined, name: string) =>
  value<GuestInfo[]>(outcome).find((g) => g.name === name);

const shellQuote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

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

/** The administrator's file: memory and on_crash are the agent's; localtime stays. */
const runSpec: GuestSpec = {
  ...spec("ep-run", 1, "run"),
  disks: [{ vdev: "xvda", source: { kind: "path", path: "/dev/loop0" }, readOnly: false }],
  vifs: [{ mac: "00:16:3e:3d:00:01", bridge: "xenbr0" }],
  xlConfig: 'name = "ep-run"\nmemory = 64\non_crash = "restart"\nlocaltime = 0\n',
};

void describe("xen driver on Xen 4.17 (takes ~3 min under TCG)", { skip: notRoot }, () => {
  let host: XenHostSession;

  /** Runs the calls in one node process in dom0 (node starts slowly under TCG). */
  async function batch(...calls: Array<[string, ...unknown[]]>): Promise<Outcome[]> {
    const request = JSON.stringify({
      options: driverOptions,
      calls: calls.map(([call, ...args]) => ({ call, args })),
    });
    const cli = join(testing, "driver-cli.js");
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

  before(async () => {
    await prepareXenHost();
    const tiny = await prepareTinyPvGuest();
    const kit = await domainGuestKit();
    host = await startXenHost({
      node: true,
      project: true,
      lifetimeMs: 30 * 60_000,
      files: [
        { path: "ep/vmlinux.gz", content: tiny.kernelGz },
        { path: "ep/guest.cpio", content: tiny.initramfs },
        { path: "ep/kit-initrd.cpio", content: await readFile(kit.initrd) },
        { path: "ep/loop.ko", content: tiny.loopModule },
        { path: "ep/bin/script", content: await readFile("/usr/bin/script"), mode: 0o755 },
      ],
    });
    await host.run(
      "ip link add xenbr0 type bridge && ip link set xenbr0 up && insmod /ep/loop.ko && " +
        "dd if=/dev/zero of=/tmp/disk.img bs=1M count=4 2>/dev/null && " +
        "losetup /dev/loop0 /tmp/disk.img",
    );
  });

  after(async () => {
    await host?.close();
  });

  void test("the shared driver contract passes in dom0", { timeout: 20 * 60_000 }, async (t) => {
    const result = await host.exec(
      [
        "EP_XEN_KERNEL=/ep/vmlinux.gz EP_XEN_INITRD=/ep/kit-initrd.cpio",
        "EP_XEN_SCRIPT=/ep/bin/script EP_XEN_STATE_DIR=/tmp/ep-xen-contract ETHERPLANE_LOG=warn",
        `node --test --test-reporter=tap ${join(testing, "xen-contract-in-dom0.js")}`,
      ].join(" "),
      { timeoutMs: 19 * 60_000 },
    );
    const cases = [...result.stdout.matchAll(/^\s*(ok|not ok) \d+ - (.*)$/gm)];
    for (const [, status, name] of cases) t.diagnostic(`${status} - ${name}`);
    assert.equal(result.code, 0, `${result.stdout.slice(-6000)}\n${result.stderr.slice(-2000)}`);
    assert.ok(cases.length >= 10, `only ${cases.length} contract cases ran`);
  });

  void test(
    "create merges the administrator's file, attaches a phy: disk; the name is then taken",
    { timeout: 240_000 },
    async () => {
      const [create, list, again] = await batch(["create", runSpec], ["list"], ["create", runSpec]);
      const created = value<GuestInfo>(create);
      assert.deepEqual(
        [created.name, created.uuid, created.memoryMiB, created.exit],
        ["ep-run", runSpec.uuid, 128, null],
      );
      assert.equal(guest(list, "ep-run")?.domid, created.domid, "a new driver finds it");
      failure(again, "CONFLICT");
      const files = await host.run(
        "ls /tmp/ep-xen; grep -c preserve /tmp/ep-xen/ep-run.cfg; " +
          'xl list -l ep-run | grep -c -e \'"pdev_path": "/dev/loop0"\' -e \'"localtime": "False"\'',
      );
      assert.equal(
        files,
        "ep-run.cfg\n4\n2\n",
        "the config (no .new), four preserves, the disk and localtime",
      );
    },
  );

  void test("failed creates leave nothing behind", { timeout: 180_000 }, async () => {
    const disk = (path: string) => ({
      vdev: "xvda",
      readOnly: false,
      source: { kind: "path", path },
    });
    const nbdDisk = { ...disk(""), source: { kind: "nbd", socketPath: "/run/x.sock" } };
    const [nbd, noDisk, noBridge, list] = await batch(
      ["create", { ...spec("ep-nbd", 9, "run"), disks: [nbdDisk] }],
      ["create", { ...spec("ep-nodisk", 10, "run"), disks: [disk("/dev/etherd/e9.9")] }],
      [
        "create",
        {
          ...spec("ep-nobr", 11, "run"),
          vifs: [{ mac: "00:16:3e:3d:00:0b", bridge: "nosuchbr0" }],
        },
      ],
      ["list"],
    );
    assert.match(failure(nbd, "UNAVAILABLE"), /aoe module/);
    assert.match(failure(noDisk, "UNAVAILABLE"), /\/dev\/etherd\/e9\.9 does not exist/);
    assert.match(failure(noBridge, "UNAVAILABLE"), /bridge nosuchbr0 does not exist/);
    assert.deepEqual(
      value<GuestInfo[]>(list).map((g) => g.name),
      ["Domain-0", "ep-run"],
    );
    assert.equal(await host.run("ls /tmp/ep-xen"), "ep-run.cfg\n");
  });

  void test(
    "console: the boot is history, not replayed as live output; input reaches the guest",
    { timeout: 180_000 },
    async () => {
      await host.run(
        "n=0; until grep -q 'tick 2' /var/log/xen/console/guest-ep-run.log; do " +
          "n=$((n + 1)); [ $n -lt 120 ] || exit 1; sleep 0.5; done",
      );
      const [outcome] = await batch(["consoleExchange", "ep-run", "hello-driver\r", 4000]);
      const exchange = value<{ history: string; first: string; second: string }>(outcome);
      assert.match(exchange.history, /tiny-pv up action=run\r\ntick 1\r\n/);
      assert.match(exchange.first, /echo:hello-driver/);
      assert.match(exchange.second, /echo:hello-driver/);
      assert.doesNotMatch(exchange.first, /tiny-pv up/, "xenconsole's replay was dropped");
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
    "a guest already shut down: shutdown is a no-op, reboot CONFLICT",
    { timeout: 240_000 },
    async () => {
      const [shutdown, wait, again, reboot, destroy, destroyAgain, digits] = await batch(
        ["shutdown", "ep-run"],
        ["waitForExit", "ep-run", 120_000],
        ["shutdown", "ep-run"],
        ["reboot", "ep-run"],
        ["destroy", "ep-run"],
        ["destroy", "ep-run"],
        ["pause", "12"],
      );
      value(shutdown);
      assert.equal(value<GuestInfo>(wait).exit, "poweroff");
      value(again);
      assert.match(failure(reboot, "CONFLICT"), /is shut down \(poweroff\)/);
      value(destroy);
      failure(destroyAgain, "NOT_FOUND");
      failure(digits, "INVALID_ARGUMENT");
      assert.equal(await host.run("ls /tmp/ep-xen; xl list | wc -l"), "2\n", "no file, dom0 only");
    },
  );
});
