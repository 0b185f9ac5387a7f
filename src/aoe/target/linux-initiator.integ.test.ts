/**
 * The real Linux AoE initiator (Debian's kernel and aoe.ko, booted under QEMU/TCG) against
 * `etherplane aoe serve`, run as a user runs it, through tap + bridge + veth: O_DIRECT pattern
 * write/read, mke2fs, mount, a file written; then on the host the pattern and the file are in the
 * backing file and e2fsck -fn is clean. At MTU 1500 and 9000.
 */
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { CliDaemon } from "../../../test/lab/cli-process.js";
import { TestNet } from "../../../test/lab/netns.js";
import {
  diskBytes,
  guestScript,
  verifyLinuxAoeScenario,
} from "../../../test/lab/linux-guest/aoe-disk-scenario.js";
import {
  bootLinuxAoeGuest,
  createGuestNetwork,
  prepareLinuxGuest,
} from "../../../test/lab/linux-guest/index.js";

describe("the Linux kernel's AoE initiator against etherplane's target (QEMU/TCG)", () => {
  before(async () => {
    await prepareLinuxGuest();
  });

  for (const mtu of [1500, 9000]) {
    test(`O_DIRECT I/O and an ext2 filesystem at MTU ${mtu}`, { timeout: 180_000 }, async (t) => {
      const net = new TestNet("lgep");
      const dir = await mkdtemp(join(tmpdir(), "ep-lgep-"));
      let target: CliDaemon | undefined;
      try {
        const disk = join(dir, "disk.img");
        await writeFile(disk, "");
        await truncate(disk, diskBytes);
        const topology = await createGuestNetwork(net, { mtu });
        target = new CliDaemon(
          [
            "aoe",
            "serve",
            "--iface",
            topology.targetIf,
            "--export",
            `1.0=${disk}`,
            "--state-dir",
            join(dir, "state"),
          ],
          { ns: topology.targetNs },
        );
        await target.waitFor(/serving 1 export/);
        const result = await bootLinuxAoeGuest({
          net,
          ...topology,
          device: "e1.0",
          script: guestScript,
          timeoutMs: 120_000,
        });
        t.diagnostic(
          `guest ${result.elapsedMs} ms: ${result.stages.map((s) => `${s.name} ${s.uptimeS}s`).join(", ")}`,
        );
        await target.stop();
        await verifyLinuxAoeScenario(result, disk, dir, mtu);
      } finally {
        await target?.stop();
        await net.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
