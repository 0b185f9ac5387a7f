/**
 * The NBD bridge as a user runs it: `etherplane aoe nbd` in the initiator's namespace serves an
 * AoE volume (our target, in the target's namespace) on a Unix socket; Debian's qemu-io and
 * qemu-img write and read through it, checked against the target's backing file.
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
});
