/**
 * The NBD server driven by the real clients, qemu-io and qemu-img (qemu-utils), over a Unix
 * socket and a file-backed BlockDevice, checked against the backing file.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, it } from "node:test";
import { MiB, SIZE, pattern, serve } from "./testing/served-device.js";

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * MiB },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const haveQemu = (await run("qemu-io", ["--version"])).code === 0;

const qemuSuite = { skip: !haveQemu && "qemu-utils is not installed", timeout: 120_000 };
void describe("NBD server with qemu-io and qemu-img", qemuSuite, () => {
  void it("writes patterns, reads them back and flushes, at both ends of the device", async () => {
    const served = await serve();
    try {
      // A pattern placed in the backing file directly must come back through the server.
      const handle = await fs.open(served.imagePath, "r+");
      await handle.write(Buffer.alloc(64 * 1024, 0x77), 0, 64 * 1024, 2 * MiB);
      await handle.close();
      const last = SIZE - 512;
      const result = await run("qemu-io", [
        "-f",
        "raw",
        ...["-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M"],
        ...["-c", `write -P 0xcd ${last} 512`, "-c", `read -P 0xcd ${last} 512`],
        ...["-c", "read -P 0x77 2M 64k", "-c", "flush"],
        served.uri,
      ]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.doesNotMatch(result.stdout, /fail/i);

      const expected = Buffer.from(served.original);
      expected.fill(0xab, 0, MiB);
      expected.fill(0x77, 2 * MiB, 2 * MiB + 64 * 1024);
      expected.fill(0xcd, last);
      assert.ok((await fs.readFile(served.imagePath)).equals(expected), "backing file bytes");
      assert.ok(served.probe.flushes >= 1, "qemu-io flush reached the device");

      // The pattern check can fail: a wrong pattern is reported and the exit code says so.
      const wrong = await run("qemu-io", ["-f", "raw", "-c", "read -P 0xab 1M 4k", served.uri]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout, /Pattern verification failed/);
      const stats = served.server.stats();
      assert.equal(stats.bytesWritten, MiB + 512);
      assert.equal(stats.protocolErrors, 0);
      assert.equal(stats.errorReplies, 0);
    } finally {
      await served.close();
    }
  });

  void it("fails a read beyond the end of the device", async () => {
    const served = await serve();
    try {
      // qemu checks the size it was given and never sends this; the raw-client tests below
      // show the server's own EINVAL.
      const result = await run("qemu-io", ["-f", "raw", "-c", `read ${SIZE} 512`, served.uri]);
      assert.equal(result.code, 1);
      assert.match(result.stdout + result.stderr, /read failed/);
    } finally {
      await served.close();
    }
  });

  void it("reports the device size to qemu-img info, for a named export too", async () => {
    const served = await serve({ exportName: "vol-1" });
    try {
      const info = await run("qemu-img", ["info", "--output=json", "-f", "raw", served.uri]);
      assert.equal(info.code, 0, info.stderr);
      assert.equal((JSON.parse(info.stdout) as { "virtual-size": number })["virtual-size"], SIZE);
      const missing = served.uri.replace("vol-1", "other");
      const refused = await run("qemu-img", ["info", "-f", "raw", missing]);
      assert.notEqual(refused.code, 0);
    } finally {
      await served.close();
    }
  });

  void it("lets qemu-img convert copy the whole device", async () => {
    const served = await serve();
    try {
      const copy = path.join(served.dir, "copy.raw");
      const result = await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", served.uri, copy]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok((await fs.readFile(copy)).equals(await fs.readFile(served.imagePath)));
      assert.equal(served.server.stats().bytesRead, SIZE);
    } finally {
      await served.close();
    }
  });

  void it("lets qemu-img convert write a whole image into the device, zero runs included", async () => {
    const served = await serve();
    try {
      // Every third 64 KiB run is zero: qemu may send those as NBD_CMD_WRITE_ZEROES.
      const image = pattern(SIZE, 0x1234567);
      for (let offset = 0; offset < SIZE; offset += 192 * 1024)
        image.fill(0, offset, offset + 65536);
      const source = path.join(served.dir, "source.raw");
      await fs.writeFile(source, image);
      const args = ["convert", "-n", "-f", "raw", "-O", "raw", source, served.uri];
      const result = await run("qemu-img", args);
      assert.equal(result.code, 0, result.stderr);
      assert.ok((await fs.readFile(served.imagePath)).equals(image));
      assert.equal(served.server.stats().bytesWritten, SIZE);
    } finally {
      await served.close();
    }
  });

  void it("serves a read-only device for reading and refuses writes", async () => {
    const served = await serve({ readOnly: true });
    try {
      const write = await run("qemu-io", ["-f", "raw", "-c", "write -P 0x11 0 4k", served.uri]);
      assert.notEqual(write.code, 0, write.stdout);
      const read = await run("qemu-io", ["-r", "-f", "raw", "-c", "read 0 1M", served.uri]);
      assert.equal(read.code, 0, read.stdout + read.stderr);
      assert.ok((await fs.readFile(served.imagePath)).equals(served.original));
    } finally {
      await served.close();
    }
  });
});
