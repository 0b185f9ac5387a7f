/**
 * The NBD bridge as a user runs it: `etherplane aoe nbd` in the initiator's namespace serves an
 * AoE volume (our target, in the target's namespace) on a Unix socket; Debian's qemu-io and
 * qemu-img write and read through it, checked against the target's backing file. A bridge with a
 * short `--request-timeout-ms` turns a cut link into an I/O error for its client, and serves again
 * once the link is back.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { createAoeBench, type AoeBench } from "../../../test/lab/aoe-lab.js";
import { CliDaemon } from "../../../test/lab/cli-process.js";
import { run, runTool } from "../../../test/lab/netns.js";

const MiB = 1024 * 1024;

describe("etherplane aoe nbd with qemu-io and qemu-img", () => {
  let link: AoeBench;
  let bridge: CliDaemon;
  let uri: string;

  before(async () => {
    link = await createAoeBench("nbd", { diskBytes: 32 * MiB, diskName: "volume.img" });
    await link.serve("7.7");
    const socket = `${link.dir}/e7.7.sock`;
    bridge = new CliDaemon(["aoe", "nbd", "e7.7", "--iface", "ini0", "--socket", socket], {
      ns: link.initiatorNs,
    });
    await bridge.waitFor(/over NBD/);
    uri = `nbd+unix:///?socket=${socket}`;
  });

  after(async () => {
    await bridge?.stop();
    await link?.close();
  });

  const qemuIo = (...commands: string[]) =>
    run("qemu-io", ["-f", "raw", ...commands.flatMap((c) => ["-c", c]), uri], {
      timeoutMs: 60_000,
    });

  test("qemu-img sees the volume's size", async () => {
    const { stdout } = await run("qemu-img", ["info", "--output=json", uri]);
    assert.equal((JSON.parse(stdout) as { "virtual-size": number })["virtual-size"], 32 * MiB);
  });

  test("qemu-io writes patterns that are then in the backing file, and reads them back", async () => {
    const { stdout } = await qemuIo(
      "write -P 0xab 1M 3M",
      "write -P 0x5c 31M 1M",
      "write -P 0x11 4097 1000",
      "flush",
    );
    assert.match(stdout, /wrote 3145728\/3145728 bytes at offset 1048576/);
    const file = fs.readFileSync(link.disk);
    assert.ok(
      file.subarray(1 * MiB, 4 * MiB).every((b) => b === 0xab),
      "3 MiB of 0xab at 1 MiB",
    );
    assert.ok(
      file.subarray(31 * MiB).every((b) => b === 0x5c),
      "the last MiB",
    );
    assert.ok(
      file.subarray(4097, 5097).every((b) => b === 0x11),
      "an unaligned write",
    );
    assert.equal(file[4096], 0);
    assert.equal(file[5097], 0);
    const verify = await qemuIo(
      "read -P 0xab 1M 3M",
      "read -P 0x5c 31M 1M",
      "read -P 0x11 4097 1000",
      "read -P 0 0 4096",
    );
    assert.doesNotMatch(verify.stdout + verify.stderr, /Pattern verification failed/);
    assert.match(verify.stdout, /read 3145728\/3145728 bytes/);
  });

  test("qemu-img convert copies the whole volume, equal to the backing file", async () => {
    const copy = `${link.dir}/copy.raw`;
    await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", uri, copy], { timeoutMs: 120_000 });
    assert.ok(fs.readFileSync(copy).equals(fs.readFileSync(link.disk)));
  });

  test("a read past the end fails cleanly and the bridge keeps serving", async () => {
    // qemu-io reports a failed command on stdout and exits 1.
    const result = await runTool("qemu-io", ["-f", "raw", "-c", "read 32M 4096", uri]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /read failed: (Input\/output error|Invalid argument)/);
    const again = await qemuIo("read -P 0x5c 31M 4096");
    assert.match(again.stdout, /read 4096\/4096 bytes/);
  });

  test("--request-timeout-ms: a cut link fails a read as an I/O error after the deadline, and the bridge serves again once the link is back", async () => {
    const socket = `${link.dir}/short.sock`;
    const short = new CliDaemon(
      ["aoe", "nbd", "e7.7", "--iface", "ini0", "--socket", socket, "--request-timeout-ms", "1000"],
      { ns: link.initiatorNs },
    );
    try {
      await short.waitFor(/over NBD/);
      assert.match(short.stderr, /requestTimeoutMs\W+1000/);
      const shortUri = `nbd+unix:///?socket=${socket}`;
      await link.initiatorNs.exec("ip", ["link", "set", "ini0", "down"]);
      let cut: Awaited<ReturnType<typeof runTool>>;
      try {
        // With the default deadline (30 s) this read would wait; the bridge gives up after 1 s.
        cut = await runTool("qemu-io", ["-f", "raw", "-c", "read 0 4096", shortUri], 60_000);
      } finally {
        await link.initiatorNs.exec("ip", ["link", "set", "ini0", "up"]);
      }
      assert.equal(cut.code, 1, cut.stdout + cut.stderr);
      assert.match(cut.stdout, /read failed: Input\/output error/);
      // The bridge says why: the device's own deadline, as given (the default would say 30000).
      assert.match(short.stderr, /device request failed.*request deadline 1000 ms/);
      // The link back (its carrier may take a moment), the same bridge answers.
      const deadline = Date.now() + 60_000;
      let again = await runTool("qemu-io", ["-f", "raw", "-c", "read -P 0x5c 31M 4096", shortUri]);
      while (again.code !== 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        again = await runTool("qemu-io", ["-f", "raw", "-c", "read -P 0x5c 31M 4096", shortUri]);
      }
      assert.match(again.stdout, /read 4096\/4096 bytes/, again.stdout + again.stderr);
    } finally {
      await short.stop();
    }
  });

  test("--request-timeout-ms out of its bounds is refused with the range", async () => {
    const bad = new CliDaemon(
      [
        "aoe",
        "nbd",
        "e7.7",
        "--iface",
        "ini0",
        "--socket",
        `${link.dir}/bad.sock`,
        "--request-timeout-ms",
        "10",
      ],
      { ns: link.initiatorNs },
    );
    assert.notEqual(await bad.wait(), 0);
    assert.match(bad.stderr, /--request-timeout-ms 10: .*from 1000 to 600000/);
  });
});
