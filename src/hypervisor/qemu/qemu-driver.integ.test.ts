/**
 * The qemu driver against real QEMU (TCG here; KVM where the probe finds it working), with the
 * domain guest kit's Debian kernel and initrd, taps on a bridge inside a network namespace made
 * by the test. Runs the shared driver contract, then what only QEMU has: NBD and file disks,
 * `root=` rewriting, Ctrl-Alt-Del reboots, and the KVM probe's firmware. Needs root.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildRootFsImage, domainGuestKit } from "../../../test/lab/domain-guest/index.js";
import { runTool, TestNet, type Namespace } from "../../../test/lab/netns.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import { runHypervisorDriverContract } from "../driver.contract.js";
import { consoleGuestReadyPattern } from "../fake/console-guest.js";
import { kvmProbeFirmware } from "./accel.js";
import { QemuDriver } from "./qemu-driver.js";

const bridge = "epbr0";
const memoryMiB = 160;

/** What guests can leave behind: taps in the namespace, run dirs, QEMU processes. */
async function residue(ns: Namespace, stateDir: string): Promise<string[]> {
  const { stdout } = await ns.exec("ip", ["-o", "link", "show"]);
  const taps = [...stdout.matchAll(/^\d+: (vif[\d.]+)[@:]/gm)].map((m) => `tap ${m[1]}`);
  const dirs = (await readdir(stateDir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => `dir ${entry.name}`);
  const processes: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.startsWith("qemu-system") && cmdline.includes(stateDir)) {
      processes.push(`qemu ${pid}`);
    }
  }
  return [...taps, ...dirs, ...processes].sort();
}

async function hostLab(tag: string) {
  const net = new TestNet(tag);
  const ns = await net.namespace("host");
  await net.bridge(ns, bridge, []);
  const stateDir = await mkdtemp(join(tmpdir(), "epq-"));
  const kit = await domainGuestKit();
  const close = async () => {
    await net.close();
    await rm(stateDir, { recursive: true, force: true });
  };
  return { net, ns, stateDir, kit, close };
}

runHypervisorDriverContract("qemu", async () => {
  const lab = await hostLab("qemuct");
  const open = () => new QemuDriver({ stateDir: lab.stateDir, netns: lab.ns.name });
  return {
    driver: open(),
    reopen: () => Promise.resolve(open()),
    bridge,
    boot: (name) => ({
      kind: "kernel",
      kernel: lab.kit.kernel,
      ramdisk: lab.kit.initrd,
      cmdline: `console=ttyS0 ep_hostname=${name}`,
    }),
    memoryMiB,
    residue: () => residue(lab.ns, lab.stateDir),
    bootTimeoutMs: 90_000,
    stopTimeoutMs: 30_000,
    teardown: lab.close,
  };
});

describe("qemu driver: disks, root=, reboot by Ctrl-Alt-Del", () => {
  let lab: Awaited<ReturnType<typeof hostLab>>;
  let driver: QemuDriver;
  let nbd: ChildProcess | undefined;

  before(async () => {
    lab = await hostLab("qemudisk");
    driver = new QemuDriver({ stateDir: lab.stateDir, netns: lab.ns.name });
  });

  after(async () => {
    for (const guest of await driver.list()) await driver.destroy(guest.name).catch(() => {});
    nbd?.kill("SIGKILL");
    await lab.close();
  });

  it("boots an ext4 root over NBD as root=/dev/sda1, with a read-only file disk", async () => {
    const image = join(lab.stateDir, "root.img");
    await buildRootFsImage({
      path: image,
      sizeMiB: 32,
      initScript: [
        'echo "root marker from $(hostname)" > /marker',
        "cat /proc/cmdline > /cmdline-seen",
        "cat /sys/block/vdb/ro > /vdb-ro",
        "sync",
      ].join("\n"),
    });
    const extra = join(lab.stateDir, "extra.img");
    await writeFile(extra, Buffer.alloc(4 * 1024 * 1024));
    const socketPath = join(lab.stateDir, "nbd.sock");
    nbd = spawn("qemu-nbd", ["--format=raw", "--persistent", `--socket=${socketPath}`, image], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const deadline = Date.now() + 10_000;
    while (!(await stat(socketPath).catch(() => undefined))?.isSocket()) {
      assert.ok(Date.now() < deadline, "qemu-nbd made its socket");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const name = `ep-disk-${randomBytes(2).toString("hex")}`;
    await driver.create({
      name,
      uuid: randomUUID(),
      memoryMiB,
      vcpus: 1,
      // As a Xen PV domain file says it: whole-disk vdev sda1, root=/dev/sda1.
      boot: {
        kind: "kernel",
        kernel: lab.kit.kernel,
        ramdisk: lab.kit.initrd,
        cmdline: `console=ttyS0 root=/dev/sda1 rw ep_hostname=${name}`,
      },
      disks: [
        { vdev: "sda1", source: { kind: "nbd", socketPath }, readOnly: false },
        { vdev: "sdb", source: { kind: "path", path: extra }, readOnly: true },
      ],
      vifs: [],
    });
    const session = await driver.console(name);
    let text = session.history.toString("latin1");
    session.stream.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    const deadlineReady = Date.now() + 90_000;
    while (!consoleGuestReadyPattern.test(text)) {
      assert.ok(Date.now() < deadlineReady, `ready line; console tail:\n${text.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await session.close();

    await driver.reboot(name);
    const deadlineExit = Date.now() + 30_000;
    while ((await driver.list()).find((g) => g.name === name)?.exit !== "reboot") {
      assert.ok(Date.now() < deadlineExit, "exit reboot after Ctrl-Alt-Del");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await driver.destroy(name);
    nbd.kill("SIGTERM");

    const cat = async (path: string) =>
      (await runTool("debugfs", ["-R", `cat ${path}`, image])).stdout;
    assert.equal(await cat("/marker"), `root marker from ${name}\n`);
    const cmdline = await cat("/cmdline-seen");
    assert.match(cmdline, /(^| )root=\/dev\/vda( |$)/, `rewritten: ${cmdline}`);
    assert.equal(
      (await cat("/vdb-ro")).trim(),
      "1",
      "the read-only disk is read-only in the guest",
    );
    const fsck = await runTool("e2fsck", ["-fn", image]);
    assert.equal(fsck.code, 0, `the root fs is clean after the reboot: ${fsck.stdout}`);
  });

  it("a QEMU that fails to start, or a missing disk, is UNAVAILABLE and leaves no tap or dir", async () => {
    const before = await residue(lab.ns, lab.stateDir);
    // A folder as the initrd: readable, but QEMU fails to load it (after the tap was made).
    const notAnInitrd = await mkdtemp(join(lab.stateDir, "not-an-initrd-"));
    const base = {
      uuid: randomUUID(),
      memoryMiB,
      vcpus: 1,
      disks: [],
      vifs: [{ mac: "00:16:3e:0f:00:01", bridge }],
    };
    await assert.rejects(
      driver.create({
        ...base,
        name: "ep-badinitrd",
        boot: {
          kind: "kernel",
          kernel: lab.kit.kernel,
          ramdisk: notAnInitrd,
          cmdline: "console=ttyS0",
        },
      }),
      (error: unknown) =>
        isEtherplaneError(error, "UNAVAILABLE") && /QEMU did not start/.test(error.message),
    );
    await assert.rejects(
      driver.create({
        ...base,
        name: "ep-nodisk",
        boot: { kind: "firmware" },
        disks: [
          { vdev: "xvda", source: { kind: "path", path: "/dev/ep-no-such-disk" }, readOnly: false },
        ],
      }),
      (error: unknown) => isEtherplaneError(error, "UNAVAILABLE") && /missing/.test(error.message),
    );
    assert.deepEqual(await driver.list(), []);
    await rm(notAnInitrd, { recursive: true });
    assert.deepEqual(await residue(lab.ns, lab.stateDir), before);
  });

  it("the KVM probe firmware reaches long mode and exits (checked under TCG)", async () => {
    const firmware = join(lab.stateDir, "probe.bin");
    await writeFile(firmware, kvmProbeFirmware());
    const result = await runTool(
      "qemu-system-x86_64",
      [
        ...["-accel", "tcg", "-machine", "pc", "-m", "16", "-bios", firmware],
        ...["-nodefaults", "-no-user-config", "-display", "none"],
        ...["-device", "isa-debug-exit,iobase=0xf4,iosize=1"],
      ],
      20_000,
    );
    assert.equal(result.code, 3, result.stderr);
  });
});
