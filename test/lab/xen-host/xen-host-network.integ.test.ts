/**
 * The Xen host on two networks (one boot, ~15 s), as cluster-lab.ts lays them out: on the `mgmt`
 * bridge, dom0's eth0 is a port of its own bridge xenbr0 (as on a real Xen host), whose address
 * reaches an HTTP server in another namespace; on the `san` bridge, eth1 carries aoe.ko, which
 * finds Debian's vblade there: dom0 reads the whole AoE disk and its md5 is the backing file's.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { TestNet } from "../netns.js";
import { bootXenHost, prepareXenHost } from "./index.js";
import { startTokenServer, startVblade, stopProcess } from "./test-peers.js";

const diskBytes = 8 * 1024 * 1024;
const dom0Address = "10.77.0.50";
const peerAddress = "10.77.0.1";
const httpPort = 8080;

const script = `
echo "md5 $(md5sum /dev/etherd/e1.0 | cut -d ' ' -f 1)"
echo "sectors $(cat '/sys/block/etherd!e1.0/size')"
echo "aoe-mac $(cat '/sys/block/etherd!e1.0/mac')"
echo "aoe-netif $(cat '/sys/block/etherd!e1.0/netif')"
echo "eth1-addr $(ip -o -4 addr show dev eth1 | awk '{ print $4 }')"
echo "http $(wget -q -O - http://${peerAddress}:${httpPort}/from-dom0)"
echo "brif $(ls /sys/class/net/xenbr0/brif | tr '\\n' ' ')"
echo "addr $(ip -o -4 addr show dev xenbr0 | awk '{ print $4 }')"
echo "eth0 $(cat /sys/class/net/eth0/address) $(cat /sys/class/net/eth0/mtu)"
`;

function field(lines: readonly string[], key: string): string | undefined {
  const line = lines.find((l) => l.startsWith(`${key} `));
  return line?.slice(key.length + 1).trim();
}

const notRoot = process.getuid?.() !== 0 ? "needs root (namespaces, taps, /var/cache)" : false;

void describe("Xen host on a namespace bridge (~20 s)", { skip: notRoot }, () => {
  before(async () => {
    await prepareXenHost();
  });

  void test(
    "dom0 reaches an HTTP server through xenbr0 and reads a vblade disk over AoE",
    { timeout: 150_000 },
    async (t) => {
      const net = new TestNet("xennet");
      const dir = await mkdtemp(join(tmpdir(), "ep-xennet-"));
      try {
        const disk = join(dir, "disk.img");
        const content = randomBytes(diskBytes);
        await writeFile(disk, content);
        const lan = await net.namespace("lan");
        await net.bridge(lan, "mgmt", []);
        await net.bridge(lan, "san", []);
        const peerNs = await net.namespace("peer");
        await net.link(peerNs, "mgmt0", lan, "vpeer");
        await lan.exec("ip", ["link", "set", "vpeer", "master", "mgmt"]);
        await peerNs.exec("ip", ["addr", "add", `${peerAddress}/24`, "dev", "mgmt0"]);
        const targetNs = await net.namespace("target");
        const targetIf = "aoe0";
        await net.link(targetNs, targetIf, lan, "vtarget");
        await lan.exec("ip", ["link", "set", "vtarget", "master", "san"]);
        const token = randomBytes(8).toString("hex");
        const server = await startTokenServer(net, peerNs, peerAddress, httpPort, token);
        const vblade = await startVblade(net, targetNs, targetIf, disk);

        const result = await bootXenHost({
          script,
          net,
          network: {
            bridgeNs: lan,
            bridge: "mgmt",
            address: `${dom0Address}/24`,
            guestBridge: "xenbr0",
            moreNics: [{ bridge: "san", address: "10.78.0.50/24" }],
          },
          aoe: { interface: "eth1", waitFor: ["e1.0"] },
          timeoutMs: 120_000,
        });
        const stages = result.stages.map((s) => `${s.name} ${s.uptimeS}s/${s.hostMs}ms`);
        t.diagnostic(`Xen host ${result.elapsedMs} ms: ${stages.join(", ")}`);
        await stopProcess(vblade);
        assert.equal(result.exitCode, 0, result.console.slice(-4000));
        const lines = result.lines;

        assert.equal(field(lines, "md5"), createHash("md5").update(content).digest("hex"));
        assert.equal(field(lines, "sectors"), String(diskBytes / 512));
        const targetMac = (await targetNs.mac(targetIf)).replaceAll(":", "");
        assert.equal(field(lines, "aoe-mac"), targetMac, "the disk is vblade's, on aoe0");
        assert.equal(field(lines, "aoe-netif"), "eth1");
        assert.equal(field(lines, "eth1-addr"), "10.78.0.50/24");

        assert.equal(field(lines, "http"), token);
        assert.deepEqual(server.clients(), [dom0Address]);
        assert.equal(field(lines, "brif"), "eth0");
        assert.equal(field(lines, "addr"), `${dom0Address}/24`);
        assert.equal(field(lines, "eth0"), `${result.mac} 1500`);
        for (const stage of ["NET", "AOE"]) {
          assert.ok(
            result.stages.some((s) => s.name === stage),
            `no ${stage} stage`,
          );
        }
      } finally {
        await net.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
