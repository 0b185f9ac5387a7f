/**
 * VLAN networks for real, where the kernel has 8021q: Debian's 6.1 kernel in the Linux guest lab
 * (QEMU/TCG). This machine's kernel has no 8021q, so host-network.integ.test.ts can only check
 * the refusal there.
 *
 * One boot. The plans are made on the host for the guest's expected start state (eth0 up, nothing
 * else) and run in the guest as shell scripts (renderPlanAsShell): network A with busybox `ip`,
 * network B with the host's own iproute2 `ip` (copied into the guest with its libraries, the
 * binary the agent runs on Debian 12). The guest reports its state through iproute2's
 * `ip -j -d link show` and through the kernel's own files (/proc/net/vlan, /sys/class/net/*\/brif),
 * and sends ARP requests out of both bridges, which tcpdump on the host must see on the wire
 * tagged with the right VLAN id. Then B is removed with its removal plan, A stays.
 *
 * The guest needs an AoE disk to boot into its script (the lab's /init waits for one): vblade
 * serves a small file, as in test/lab/linux-guest/linux-guest-vblade.integ.test.ts.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, realpath, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { before, describe, test } from "node:test";
import { TestNet, run, type Namespace } from "../../../test/lab/netns.js";
import {
  bootLinuxAoeGuest,
  createGuestNetwork,
  fetchGuestKernel,
  prepareLinuxGuest,
  type InitramfsFile,
} from "../../../test/lab/linux-guest/index.js";
import { loadOrder } from "../../../test/lab/linux-guest/kernel.js";
import {
  parseIpLinkJson,
  planHostNetwork,
  planHostNetworkRemoval,
  renderPlanAsShell,
  type HostNetworkSpec,
  type ObservedLink,
} from "./index.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (namespaces, taps, QEMU)" : false;

const guestNic = (more: Partial<ObservedLink>): ObservedLink => ({
  name: "eth0",
  index: 2,
  kind: "other",
  driver: undefined,
  master: undefined,
  vlan: undefined,
  up: true,
  mtu: 1500,
  ...more,
});
/** What /init leaves: eth0 up at MTU 1500 (AoE runs on it), lo down. */
const guestStart: ObservedLink[] = [
  guestNic({ name: "lo", index: 1, up: false, mtu: 65536 }),
  guestNic({}),
];

const netA: HostNetworkSpec = {
  name: "a",
  bridge: "xenbr10",
  uplink: "eth0",
  vlanId: 10,
  mtu: 1400,
};
const netB: HostNetworkSpec = { name: "b", bridge: "xenbr20", uplink: "eth0", vlanId: 20 };
/** B as it should be after its plan ran, for its removal plan. */
const guestWithB: ObservedLink[] = [
  ...guestStart,
  guestNic({
    name: "eth0.20",
    kind: "vlan",
    driver: "vlan",
    master: "xenbr20",
    vlan: { id: 20, parent: "eth0", protocol: "802.1Q" },
  }),
  guestNic({ name: "xenbr20", kind: "bridge", driver: "bridge" }),
];

/** The host's `ip` and the shared libraries it loads (ldd), for a guest without iproute2. */
async function iproute2Files(): Promise<InitramfsFile[]> {
  const ip = await realpath("/bin/ip");
  const { stdout } = await run("ldd", [ip]);
  const files: InitramfsFile[] = [
    { path: "ep/iproute2/ip", content: await readFile(ip), mode: 0o755 },
  ];
  for (const line of stdout.split("\n")) {
    const lib = /=>\s*(\/\S+)/.exec(line)?.[1];
    const loader = /^\s*(\/\S*ld-linux\S*)/.exec(line)?.[1];
    if (lib) files.push({ path: `ep/iproute2/lib/${basename(lib)}`, content: await readFile(lib) });
    if (loader) {
      files.push({ path: "ep/iproute2/ld.so", content: await readFile(loader), mode: 0o755 });
    }
  }
  assert.ok(
    files.some((f) => f.path === "ep/iproute2/ld.so"),
    `no loader in ldd output:\n${stdout}`,
  );
  files.push({
    path: "ep/ip2",
    content:
      '#!/bin/sh\nexec /ep/iproute2/ld.so --library-path /ep/iproute2/lib /ep/iproute2/ip "$@"\n',
    mode: 0o755,
  });
  return files;
}

async function startVblade(net: TestNet, ns: Namespace, ifname: string, file: string) {
  const child = net.adopt(
    ns.spawn("vblade", ["1", "0", ifname, file], { stdio: ["ignore", "pipe", "pipe"] }),
  );
  await waitForOutput(child, /e1\.0, \d+ sectors/, "vblade");
  return child;
}

function waitForOutput(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  let output = "";
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${output}`));
    });
  });
}

/** The line after `TAG ` in the guest's output. */
function tagged(lines: readonly string[], tag: string): string {
  const line = lines.find((l) => l.startsWith(`${tag} `) || l === tag);
  assert.ok(line !== undefined, `guest printed no ${tag} line`);
  return line.slice(tag.length + 1);
}

const names = (links: ObservedLink[]) => links.map((l) => l.name);

void describe(
  "VLAN host networks in a Linux guest with 8021q (QEMU/TCG)",
  { skip: notRoot },
  () => {
    let bridgeFiles: InitramfsFile[] = [];
    let vlanModules: string[] = [];

    before(async () => {
      const { kernel } = await prepareLinuxGuest();
      // The lab's initramfs has 8021q (and llc, stp) but not the bridge: take bridge.ko from the
      // same kernel package, cached as its own entry.
      const withBridge = await fetchGuestKernel({ moduleRoots: ["bridge"] });
      assert.equal(withBridge.release, kernel.release);
      vlanModules = loadOrder(kernel, ["8021q"]);
      assert.deepEqual(
        loadOrder(withBridge, ["bridge"]).filter((m) => !vlanModules.includes(m)),
        ["bridge"],
      );
      bridgeFiles = [
        {
          path: "ep/bridge.ko",
          content: await readFile(join(withBridge.modulesDir, "bridge.ko")),
        },
        ...(await iproute2Files()),
      ];
    });

    void test(
      "plans run by busybox ip and by iproute2 make VLAN bridges that tag frames",
      { timeout: 180_000 },
      async (t) => {
        const planA = planHostNetwork(netA, guestStart);
        const planB = planHostNetwork(netB, guestStart);
        const removeB = planHostNetworkRemoval(netB, guestWithB);
        assert.equal(planA[0]?.join(" "), "link add link eth0 name eth0.10 type vlan id 10");
        assert.deepEqual(
          removeB.map((c) => c.join(" ")),
          ["link del dev xenbr20", "link del dev eth0.20"],
        );

        const script = `
for m in ${vlanModules.join(" ")}; do insmod /lib/modules/$m.ko; done
insmod /ep/bridge.ko
echo "BEFORE $(/ep/ip2 -j -d link show)"
sh /ep/plan-a.sh
sh /ep/plan-b.sh
echo "AFTER $(/ep/ip2 -j -d link show)"
/ep/ip2 -d link show | sed 's/^/TEXT /'
sed 's/^/VLANCONFIG /' /proc/net/vlan/config
echo "VID10 $(grep -o 'VID: [0-9]*' /proc/net/vlan/eth0.10)"
echo "VID20 $(grep -o 'VID: [0-9]*' /proc/net/vlan/eth0.20)"
echo "BRIF10 $(ls /sys/class/net/xenbr10/brif)"
echo "BRIF20 $(ls /sys/class/net/xenbr20/brif)"
echo "MTU $(cat /sys/class/net/eth0.10/mtu) $(cat /sys/class/net/xenbr10/mtu) $(cat /sys/class/net/eth0/mtu)"
ip addr add 10.10.0.1/24 dev xenbr10
ip addr add 10.20.0.1/24 dev xenbr20
arping -c 2 -w 3 -I xenbr10 10.10.0.2 >/dev/null 2>&1 &
arping -c 2 -w 3 -I xenbr20 10.20.0.2 >/dev/null 2>&1 &
wait
sh /ep/remove-b.sh
echo "FINAL $(/ep/ip2 -j -d link show)"
`;
        const net = new TestNet("hostnetvm");
        const dir = await mkdtemp(join(tmpdir(), "ep-hostnetvm-"));
        try {
          const disk = join(dir, "disk.img");
          await writeFile(disk, "");
          await truncate(disk, 1024 * 1024);
          const topology = await createGuestNetwork(net);
          await startVblade(net, topology.targetNs, topology.targetIf, disk);
          const tcpdump = net.adopt(
            topology.bridgeNs.spawn(
              "tcpdump",
              ["-i", topology.bridge, "-n", "-e", "-l", "--immediate-mode", "vlan"],
              { stdio: ["ignore", "pipe", "pipe"] },
            ),
          );
          let wire = "";
          tcpdump.stdout?.on("data", (chunk: Buffer) => (wire += chunk.toString()));
          await waitForOutput(tcpdump, /listening on/, "tcpdump");

          const result = await bootLinuxAoeGuest({
            net,
            ...topology,
            device: "e1.0",
            script,
            files: [
              ...bridgeFiles,
              { path: "ep/plan-a.sh", content: renderPlanAsShell(planA) },
              { path: "ep/plan-b.sh", content: renderPlanAsShell(planB, { ip: "/ep/ip2" }) },
              { path: "ep/remove-b.sh", content: renderPlanAsShell(removeB, { ip: "/ep/ip2" }) },
            ],
            timeoutMs: 150_000,
          });
          tcpdump.kill("SIGINT");
          await new Promise((resolve) => tcpdump.once("close", resolve));
          t.diagnostic(
            `guest ${result.elapsedMs} ms: ${result.stages.map((s) => `${s.name} ${s.uptimeS}s`).join(", ")}`,
          );
          assert.equal(result.exitCode, 0, `guest script failed:\n${result.console.slice(-4000)}`);
          const lines = result.lines;

          const capture = process.env["EP_HOST_NETWORK_CAPTURE_DIR"];
          if (capture) {
            await writeFile(join(capture, "guest-vlan-bridge.txt"), tagged(lines, "AFTER"));
            const text = lines.filter((l) => l.startsWith("TEXT ")).map((l) => l.slice(5));
            await writeFile(
              join(capture, "guest-vlan-bridge.ip-d-link.txt"),
              text.join("\n") + "\n",
            );
          }

          // The guest started as the plans assumed, so they are the plans for its real state.
          const start = parseIpLinkJson(tagged(lines, "BEFORE"));
          assert.deepEqual(names(start), ["lo", "eth0"]);
          assert.deepEqual(planHostNetwork(netA, start), planA);
          assert.deepEqual(planHostNetwork(netB, start), planB);

          // The kernel's view, from its own files.
          assert.equal(tagged(lines, "VID10"), "VID: 10");
          assert.equal(tagged(lines, "VID20"), "VID: 20");
          assert.equal(tagged(lines, "BRIF10"), "eth0.10");
          assert.equal(tagged(lines, "BRIF20"), "eth0.20");
          assert.equal(
            tagged(lines, "MTU"),
            "1400 1400 1500",
            "VLAN and bridge at 1400, uplink kept",
          );
          const vlanConfig = lines.filter((l) => l.startsWith("VLANCONFIG "));
          assert.ok(
            vlanConfig.some((l) => /^VLANCONFIG eth0\.10\s*\|\s*10\s*\|\s*eth0$/.test(l)),
            vlanConfig.join("\n"),
          );
          assert.ok(
            vlanConfig.some((l) => /^VLANCONFIG eth0\.20\s*\|\s*20\s*\|\s*eth0$/.test(l)),
            vlanConfig.join("\n"),
          );

          // iproute2's view, through the parser: converged, so nothing left to plan.
          const converged = parseIpLinkJson(tagged(lines, "AFTER"));
          const byName = new Map(converged.map((l) => [l.name, l]));
          assert.deepEqual(byName.get("eth0.10")?.vlan, {
            id: 10,
            parent: "eth0",
            protocol: "802.1Q",
          });
          assert.equal(byName.get("eth0.10")?.master, "xenbr10");
          assert.equal(byName.get("eth0.20")?.master, "xenbr20");
          assert.deepEqual(planHostNetwork(netA, converged), []);
          assert.deepEqual(planHostNetwork(netB, converged), []);
          assert.deepEqual(planHostNetworkRemoval(netB, converged), removeB);

          // On the wire: ARP out of each bridge leaves eth0 tagged with its network's VLAN id.
          const arp = wire
            .split("\n")
            .filter((l) => l.includes(result.mac) && /ethertype ARP/.test(l));
          const vids = new Set(arp.map((l) => /vlan (\d+),/.exec(l)?.[1]));
          assert.deepEqual([...vids].sort(), ["10", "20"], `tagged ARP seen:\n${wire}`);

          // B removed, A untouched.
          const final = parseIpLinkJson(tagged(lines, "FINAL"));
          assert.deepEqual(names(final).sort(), ["eth0", "eth0.10", "lo", "xenbr10"]);
          assert.deepEqual(planHostNetwork(netA, final), []);
        } finally {
          await net.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
    );
  },
);
