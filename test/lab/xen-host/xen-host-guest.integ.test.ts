/**
 * The data path of the end-to-end test (one boot, ~1 min): a Xen host session on the test's
 * bridge; vblade in another namespace serves an ext4 image as e1.0; dom0's aoe.ko makes it
 * /dev/etherd/e1.0; `xl create` starts a PV guest whose disk is `phy:/dev/etherd/e1.0` and whose
 * vif is on dom0's xenbr0 (bash hotplug scripts for both). The guest mounts /dev/xvda, writes a
 * marker naming its vif's MAC, and waits; dom0 checks the backends, `xl shutdown -w` stops it,
 * and the host finds the marker in the backing file with debugfs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { createGuestNetwork } from "../linux-guest/guest-network.js";
import { runTool, TestNet } from "../netns.js";
import {
  buildPvGuestInitrd,
  guestMarkPrefix,
  prepareXenHost,
  pvGuestKernel,
  startXenHost,
  type XenHostSession,
} from "./index.js";
import { startVblade, stopProcess } from "./test-peers.js";

const guestName = "ep-aoe-guest";
const guestMac = "00:16:3e:5a:00:01";
const guestInitrdPath = "/opt/xen-guest/initrd.cpio";
const consoleLog = `/var/log/xen/console/guest-${guestName}.log`;

const guestScript = `
wait_path /dev/xvda 30 || exit 1
mount -t ext4 /dev/xvda /mnt || exit 2
wait_path /sys/class/net/eth0 30 || exit 3
mac=$(cat /sys/class/net/eth0/address)
echo "$ep_marker $mac" >/mnt/marker.txt
umount /mnt || exit 4
echo "${guestMarkPrefix} MARKED $mac"
`;

function guestConfig(kernel: string, marker: string): string {
  return `name = "${guestName}"
type = "pv"
kernel = "${kernel}"
ramdisk = "${guestInitrdPath}"
extra = "console=hvc0 quiet ep_marker=${marker}"
memory = 128
vcpus = 1
disk = [ "phy:/dev/etherd/e1.0,xvda,w" ]
vif = [ "mac=${guestMac},bridge=xenbr0" ]
on_poweroff = "destroy"
`;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const startMs = Date.now();
  const value = await work();
  return { value, ms: Date.now() - startMs };
}

const notRoot = process.getuid?.() !== 0 ? "needs root (namespaces, taps, /var/cache)" : false;

void describe("PV guest on an AoE disk in the Xen host lab (~1 min)", { skip: notRoot }, () => {
  before(async () => {
    await prepareXenHost();
  });

  void test(
    "xl create: phy:/dev/etherd/e1.0 and a vif on xenbr0; the marker lands in vblade's file",
    { timeout: 300_000 },
    async (t) => {
      const net = new TestNet("xenguest");
      const dir = await mkdtemp(join(tmpdir(), "ep-xenguest-"));
      let host: XenHostSession | undefined;
      try {
        const disk = join(dir, "disk.img");
        const mkfs = await runTool("mke2fs", [
          "-q",
          "-F",
          "-t",
          "ext4",
          "-L",
          "epguest",
          disk,
          "32M",
        ]);
        assert.equal(mkfs.code, 0, mkfs.stderr);
        const topology = await createGuestNetwork(net);
        const vblade = await startVblade(net, topology.targetNs, topology.targetIf, disk);
        const initrd = join(dir, "guest.cpio");
        await buildPvGuestInitrd({ path: initrd, script: guestScript, after: "wait" });
        const kernel = await pvGuestKernel();
        const marker = randomBytes(8).toString("hex");

        const boot = await timed(() =>
          startXenHost({
            net,
            network: {
              bridgeNs: topology.bridgeNs,
              bridge: topology.bridge,
              address: "10.77.0.50/24",
              guestBridge: "xenbr0",
            },
            aoe: { waitFor: ["e1.0"] },
            copies: [kernel.copy, { hostPath: initrd, mountPoint: guestInitrdPath }],
            files: [{ path: "ep/tiny.cfg", content: guestConfig(kernel.dom0KernelPath, marker) }],
          }),
        );
        host = boot.value;
        const stages = host.stages.map((s) => `${s.name} ${s.uptimeS}s/${s.hostMs}ms`);
        t.diagnostic(
          `session ready in ${boot.ms} ms (QEMU ${host.readyMs} ms): ${stages.join(", ")}`,
        );

        const create = await timed(() =>
          host!.exec("xl create /ep/tiny.cfg", { timeoutMs: 120_000 }),
        );
        t.diagnostic(`xl create: ${create.ms} ms`);
        assert.equal(create.value.code, 0, create.value.stderr);

        const marked = await timed(() =>
          host!.exec(
            `n=0; until grep -q '${guestMarkPrefix} EXIT' ${consoleLog} 2>/dev/null; do ` +
              "n=$((n + 1)); [ $n -lt 900 ] || exit 1; usleep 100000; done; " +
              `cat ${consoleLog}`,
            { timeoutMs: 120_000 },
          ),
        );
        t.diagnostic(`xl create to the guest's marker: ${marked.ms} ms`);
        assert.equal(marked.value.code, 0, `no EXIT on the guest console:\n${marked.value.stdout}`);
        assert.match(marked.value.stdout, new RegExp(`${guestMarkPrefix} MARKED ${guestMac}`));
        assert.match(marked.value.stdout, new RegExp(`${guestMarkPrefix} EXIT 0 `));

        const state = await host.run(
          `xl list ${guestName} | tail -n 1; echo "brif $(ls /sys/class/net/xenbr0/brif | tr '\\n' ' ')"; ` +
            `xl block-list ${guestName} | tail -n 1; xl network-list ${guestName} | tail -n 1`,
        );
        const [listRow = "", brif = "", blockRow = "", netRow = ""] = state.trim().split("\n");
        const domid = /^ep-aoe-guest\s+(\d+)\s+128\s+1\s+/.exec(listRow)?.[1];
        assert.ok(domid, `no ${guestName} row: ${listRow}`);
        assert.equal(brif.trim(), `brif eth0 vif${domid}.0`);
        // `Vdev  BE  handle state evt-ch ring-ref BE-path`: state 4 is connected.
        assert.match(blockRow, /^51712\s+0\s+\d+\s+4\s+/, "xvda connected");
        assert.match(
          netRow,
          new RegExp(`^0\\s+0\\s+${guestMac}\\s+\\d+\\s+4\\s+`),
          "vif connected",
        );

        const shutdown = await timed(() =>
          host!.exec(`xl shutdown -w ${guestName}`, { timeoutMs: 120_000 }),
        );
        t.diagnostic(`xl shutdown -w: ${shutdown.ms} ms`);
        assert.equal(shutdown.value.code, 0, shutdown.value.stderr);
        // `-w` returns once the guest has shut down; xl create's monitor then destroys it
        // (on_poweroff = "destroy").
        const gone = await timed(() =>
          host!.exec(
            `n=0; while xl list ${guestName} >/dev/null 2>&1; do ` +
              "n=$((n + 1)); [ $n -lt 300 ] || { xl list; exit 1; }; usleep 100000; done",
            { timeoutMs: 60_000 },
          ),
        );
        t.diagnostic(`shut down to destroyed: ${gone.ms} ms`);
        assert.equal(gone.value.code, 0, `${guestName} is still there:\n${gone.value.stdout}`);

        await host.close();
        await stopProcess(vblade);
        const cat = await runTool("debugfs", ["-R", "cat /marker.txt", disk]);
        assert.equal(cat.stdout, `${marker} ${guestMac}\n`);
        const fsck = await runTool("e2fsck", ["-fn", disk]);
        assert.equal(fsck.code, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
      } finally {
        await host?.close();
        await net.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
