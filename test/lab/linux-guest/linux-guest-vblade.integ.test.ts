/**
 * Proves the Linux guest lab against Debian's vblade: the real Linux AoE initiator writes and
 * reads with O_DIRECT (busybox dd oflag=direct / iflag=direct open the disk with O_DIRECT) and
 * builds an ext2 filesystem; the host then checks the backing file byte for byte, with e2fsck
 * and with debugfs. Runs at MTU 1500 (2 sectors per frame) and 9000 (17 sectors per frame).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { TestNet, type Namespace } from "../netns.js";
import { diskBytes, guestScript, verifyLinuxAoeScenario } from "./aoe-disk-scenario.js";
import { bootLinuxAoeGuest, createGuestNetwork, prepareLinuxGuest } from "./index.js";

/** vblade serving `file` as e1.0 on `ifname`, once it has announced itself. */
async function startVblade(
  net: TestNet,
  ns: Namespace,
  ifname: string,
  file: string,
): Promise<ChildProcess> {
  const child = net.adopt(
    ns.spawn("vblade", ["1", "0", ifname, file], { stdio: ["ignore", "pipe", "pipe"] }),
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vblade did not start: ${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // vblade.c prints "pid N: e1.0, 131072 sectors O_RDWR" once its socket is bound.
      if (/e1\.0, \d+ sectors/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`vblade exited (${code}): ${output}`));
    });
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

const notRoot = process.getuid?.() !== 0 ? "needs root (namespaces, taps)" : false;

void describe("Linux AoE initiator in a QEMU guest against vblade", { skip: notRoot }, () => {
  before(async () => {
    // A cold cache downloads the kernel (~70 MB) and builds the initramfs: not part of a boot.
    await prepareLinuxGuest();
  });

  for (const mtu of [1500, 9000]) {
    void test(
      `O_DIRECT I/O and an ext2 filesystem at MTU ${mtu}`,
      { timeout: 180_000 },
      async (t) => {
        const net = new TestNet("lgvblade");
        const dir = await mkdtemp(join(tmpdir(), "ep-lgvblade-"));
        try {
          const disk = join(dir, "disk.img");
          await writeFile(disk, "");
          await truncate(disk, diskBytes);
          const topology = await createGuestNetwork(net, { mtu });
          const vblade = await startVblade(net, topology.targetNs, topology.targetIf, disk);

          const result = await bootLinuxAoeGuest({
            net,
            ...topology,
            device: "e1.0",
            script: guestScript,
            timeoutMs: 120_000,
          });
          const stages = result.stages.map((s) => `${s.name} ${s.uptimeS}s/${s.hostMs}ms`);
          t.diagnostic(`guest ${result.elapsedMs} ms: ${stages.join(", ")}`);
          await stop(vblade);

          await verifyLinuxAoeScenario(result, disk, dir, mtu);
        } finally {
          await net.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
    );
  }
});
