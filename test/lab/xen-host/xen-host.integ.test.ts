/**
 * Smoke test of the Xen host lab: boots the real Xen 4.17 hypervisor under QEMU/TCG (~10 s
 * warm, plus ~25 s and ~90 MB of downloads on a cold cache) and checks, in its PV dom0, what a
 * Xen administrator would look at first: `xl info`, `xl list` and `xl list -l`.
 *
 * With EP_XL_FIXTURES_OUT=<folder> it also writes the three outputs there: that is how
 * test/fixtures/xl/ was captured.
 */
import type { ChildProcess } from "node:child_process";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bootXenHost, dom0Hostname, prepareXenHost } from "./index.js";

const sections = ["xl info", "xl list", "xl list -l"] as const;
const script = sections.map((command) => `echo "=== ${command}"\n${command}\n`).join("");

/** The script's stdout split at its `=== <command>` lines. */
function splitSections(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of lines) {
    const head = /^=== (.+)$/.exec(line);
    if (head?.[1]) out.set(head[1], (current = []));
    else current?.push(line);
  }
  return new Map([...out].map(([command, body]) => [command, body.join("\n") + "\n"]));
}

function xlInfoField(text: string, key: string): string | undefined {
  return new RegExp(`^${key}\\s*: (.*)$`, "m").exec(text)?.[1]?.trim();
}

const notRoot =
  process.getuid?.() !== 0 ? "needs root (mknod of dom0's /dev/console, /var/cache)" : false;

void describe(
  "Xen 4.17 host booted under QEMU/TCG (slow: ~10 s per boot)",
  { skip: notRoot },
  () => {
    const children: ChildProcess[] = [];

    before(async () => {
      // A cold cache downloads the packages and kernel and builds dom0: not part of a boot.
      await prepareXenHost();
    });

    after(() => {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
    });

    void test("dom0 runs xl info, xl list and xl list -l", { timeout: 90_000 }, async (t) => {
      const result = await bootXenHost({
        script,
        timeoutMs: 75_000,
        onSpawn: (child) => children.push(child),
      });
      const stages = result.stages.map((s) => `${s.name} ${s.uptimeS}s/${s.hostMs}ms`);
      t.diagnostic(`Xen host ${result.elapsedMs} ms: ${stages.join(", ")}`);
      assert.equal(result.exitCode, 0, result.console.slice(-4000));
      assert.match(result.console, /\(XEN\) Xen version 4\.17/);
      const outputs = splitSections(result.lines);

      const info = outputs.get("xl info") ?? "";
      assert.equal(xlInfoField(info, "xen_major"), "4");
      assert.equal(xlInfoField(info, "xen_minor"), "17");
      assert.match(xlInfoField(info, "xen_version") ?? "", /^4\.17\.\d+/);
      assert.equal(xlInfoField(info, "host"), dom0Hostname);
      assert.equal(xlInfoField(info, "nr_cpus"), "2");
      assert.match(xlInfoField(info, "xen_commandline") ?? "", /dom0_mem=512M,max:512M/);
      assert.match(xlInfoField(info, "xen_commandline") ?? "", /dom0_max_vcpus=1\b/);
      // QEMU's 2048 MiB, less what the firmware keeps.
      const totalMiB = Number(xlInfoField(info, "total_memory"));
      assert.ok(totalMiB > 1900 && totalMiB <= 2048, `total_memory ${totalMiB}`);

      // `Domain-0    0   512     2     r-----      13.4`: name, id, MiB, vcpus, state, seconds.
      const list = outputs.get("xl list") ?? "";
      assert.match(list, /^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time\(s\)$/m);
      const dom0 = /^Domain-0\s+(\d+)\s+(\d+)\s+(\d+)\s+([-a-z]{6})\s+([\d.]+)$/m.exec(list);
      assert.ok(dom0, `no Domain-0 row in:\n${list}`);
      assert.equal(dom0[1], "0");
      const memMiB = Number(dom0[2]);
      assert.ok(memMiB >= 500 && memMiB <= 512, `Domain-0 has ${memMiB} MiB`);
      assert.equal(dom0[3], "1", "dom0 has 1 vCPU by default (dom0_max_vcpus=1)");
      assert.equal(dom0[4]?.[0], "r", "dom0 runs the script, so it is running");

      const long = JSON.parse(outputs.get("xl list -l") ?? "") as {
        domid: number;
        config: { c_info: { name: string; type: string }; b_info: { max_memkb: number } };
      }[];
      assert.equal(long.length, 1);
      assert.equal(long[0]?.domid, 0);
      assert.equal(long[0]?.config.c_info.name, "Domain-0");
      assert.equal(long[0]?.config.c_info.type, "pv");
      assert.equal(long[0]?.config.b_info.max_memkb, 512 * 1024);

      const fixturesDir = process.env["EP_XL_FIXTURES_OUT"];
      if (fixturesDir) {
        await mkdir(fixturesDir, { recursive: true });
        await writeFile(join(fixturesDir, "xl-info-dom0-only.txt"), info);
        await writeFile(join(fixturesDir, "xl-list-dom0-only.txt"), list);
        await writeFile(
          join(fixturesDir, "xl-list-l-dom0-only.json"),
          outputs.get("xl list -l") ?? "",
        );
      }
    });
  },
);
