/**
 * A long-running Xen host (one boot, ~1 min under load): dom0 stays up after boot and answers
 * commands over the exec channel; it runs this machine's Node.js, the project's CLI and native
 * addons from the copy disk, keeps a background process across commands, writes to its tmpfs
 * data folder while the copied repository stays read-only, and passes a file back through a
 * writable 9p share.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runTool } from "../netns.js";
import { cliPath } from "../repo.js";
import {
  dom0ProjectPath,
  dom0ProjectRoot,
  prepareXenHost,
  startXenHost,
  type XenHostSession,
} from "./index.js";

const notRoot = process.getuid?.() !== 0 ? "needs root (mknod, /var/cache)" : false;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const startMs = Date.now();
  const value = await work();
  return { value, ms: Date.now() - startMs };
}

void describe("Xen host session with Node.js in dom0 (~30 s)", { skip: notRoot }, () => {
  let host: XenHostSession | undefined;
  let shareDir: string;

  before(async () => {
    await prepareXenHost();
    shareDir = await mkdtemp(join(tmpdir(), "ep-xen-session-"));
  });

  after(async () => {
    await host?.close();
    await rm(shareDir, { recursive: true, force: true });
  });

  void test("boots once and stays up", { timeout: 150_000 }, async (t) => {
    host = await startXenHost({
      node: true,
      project: true,
      shares: [{ hostPath: shareDir, mountPoint: "/mnt/results", readOnly: false }],
      startTimeoutMs: 120_000,
    });
    const stages = host.stages.map((s) => `${s.name} ${s.uptimeS}s/${s.hostMs}ms`);
    t.diagnostic(`ready in ${host.readyMs} ms: ${stages.join(", ")}`);
    assert.ok(host.stages.some((s) => s.name === "COPIES"));
    assert.ok(host.stages.some((s) => s.name === "SHARES"));
  });

  void test("xl list answers twice over the exec channel", { timeout: 60_000 }, async (t) => {
    assert.ok(host);
    for (const round of [1, 2]) {
      const { value, ms } = await timed(() => host!.exec("xl list"));
      t.diagnostic(`xl list round ${round}: ${ms} ms`);
      assert.equal(value.code, 0, value.stderr);
      assert.match(value.stdout, /^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time\(s\)$/m);
      assert.match(value.stdout, /^Domain-0\s+0\s+\d+\s+1\s+r-----\s+[\d.]+$/m);
    }
    const { ms } = await timed(() => host!.run("true"));
    t.diagnostic(`exec round trip of 'true': ${ms} ms`);
  });

  void test("exit code and stderr come back; the timeout kills", { timeout: 60_000 }, async () => {
    assert.ok(host);
    const failed = await host.exec("echo partial; echo 'no such thing' >&2; exit 7");
    assert.deepEqual(failed, { code: 7, stdout: "partial\n", stderr: "no such thing\n" });
    await assert.rejects(host.run("exit 3"), /exited 3/);
    const startMs = Date.now();
    const killed = await host.exec("sleep 30; echo never", { timeoutMs: 2000 });
    assert.equal(killed.code, 137);
    assert.equal(killed.stdout, "");
    assert.ok(Date.now() - startMs < 15_000, `timeout took ${Date.now() - startMs} ms`);
  });

  void test("node runs in dom0: the host's version and the project's CLI", async (t) => {
    assert.ok(host);
    const version = await timed(() => host!.run("node -e 'console.log(process.version)'"));
    t.diagnostic(`node -e in dom0: ${version.ms} ms`);
    assert.equal(version.value, `${process.version}\n`);
    const local = await runTool(process.execPath, [cliPath, "--help"]);
    const help = await timed(() =>
      host!.exec(`node ${dom0ProjectPath(cliPath)} --help`, { timeoutMs: 120_000 }),
    );
    t.diagnostic(`etherplane --help in dom0: ${help.ms} ms`);
    assert.equal(local.code, 0, `the CLI fails on this machine too: ${local.stderr}`);
    assert.deepEqual(help.value, { code: 0, stdout: local.stdout, stderr: local.stderr });
  });

  void test("the project's native addons load in dom0", async () => {
    assert.ok(host);
    const out = await host.run(
      `cd ${dom0ProjectRoot} && node -e "require('./build/Release/af_packet.node'); ` +
        `require('better-sqlite3')(':memory:').prepare('select 41 + 1 as n').get().n === 42 && ` +
        `console.log('addons ok')"`,
      { timeoutMs: 120_000 },
    );
    assert.equal(out, "addons ok\n");
  });

  void test("a writable 9p share carries files both ways", async () => {
    assert.ok(host);
    const token = randomBytes(8).toString("hex");
    await writeFile(join(shareDir, "in.txt"), token);
    await host.run(
      "cat /mnt/results/in.txt >/mnt/results/out.txt; echo ' from dom0' >>/mnt/results/out.txt",
    );
    assert.equal(await readFile(join(shareDir, "out.txt"), "utf8"), `${token} from dom0\n`);
  });

  void test("node's `ip` is iproute2's, with JSON, as the agent's host networks need", async () => {
    assert.ok(host);
    // busybox sh runs its own applet for `ip` (a standalone shell); a spawn from node, as the
    // agent's, finds /bin/ip on PATH.
    const links = JSON.parse(
      await host.run(
        `node -e 'process.stdout.write(require("node:child_process").execFileSync("ip", ["-j", "link", "show", "dev", "lo"]))'`,
        { timeoutMs: 120_000 },
      ),
    ) as { ifname: string }[];
    assert.deepEqual(
      links.map((l) => l.ifname),
      ["lo"],
    );
  });

  void test("a background process outlives its command", { timeout: 60_000 }, async () => {
    assert.ok(host);
    await host.run("sh -c 'echo $$ >/tmp/bg.pid; exec sleep 600' >/dev/null 2>&1 &");
    const pid = (await host.run("sleep 1; cat /tmp/bg.pid")).trim();
    assert.match(pid, /^\d+$/);
    assert.equal((await host.run(`cat /proc/${pid}/comm`)).trim(), "sleep");
  });

  void test("the data folder is a writable tmpfs; the repository is read-only", async (t) => {
    assert.ok(host);
    const out = await host.run(
      'echo "$ETHERPLANE_DATA_DIR"; echo probe >"$ETHERPLANE_DATA_DIR/probe"; ' +
        'cat "$ETHERPLANE_DATA_DIR/probe"; grep " /var/lib/etherplane " /proc/mounts | cut -d " " -f 3; ' +
        `touch ${dom0ProjectRoot}/ep-probe 2>/dev/null && echo writable || echo read-only; ` +
        "free -m | awk '/^Mem:/ { print $2, $3 }'",
    );
    const [dataDir, probe, fsType, repo, memory] = out.trim().split("\n");
    assert.equal(dataDir, "/var/lib/etherplane");
    assert.equal(probe, "probe");
    assert.equal(fsType, "tmpfs");
    assert.equal(repo, "read-only");
    t.diagnostic(`dom0 memory total/used MiB: ${memory}`);
    const status = await readFile(`/proc/${host.child.pid}/status`, "utf8").catch(() => "");
    t.diagnostic(`QEMU ${/^VmRSS:.*$/m.exec(status)?.[0] ?? "VmRSS unknown"}`);
  });

  void test("close ends QEMU and later commands fail", { timeout: 30_000 }, async () => {
    assert.ok(host);
    const child = host.child;
    await host.close();
    assert.ok(child.exitCode !== null || child.signalCode !== null);
    await assert.rejects(host.exec("true"), /closed/);
  });
});
