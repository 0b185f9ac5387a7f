/**
 * Proves the Linux guest lab against Debian's vblade: the real Linux AoE initiator writes and
 * reads with O_DIRECT (busybox dd oflag=direct / iflag=direct open the disk with O_DIRECT) and
 * builds an ext2 filesystem; the host then checks the backing file byte for byte, with e2fsck
 * and with debugfs. Runs at MTU 1500 (2 sectors per frame) and 9000 (17 sectors per frame).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { TestNet, type Namespace } from "../netns.js";
import { bootLinuxAoeGuest, createGuestNetwork, prepareLinuxGuest } from "./index.js";

const diskBytes = 64 * 1024 * 1024;
const patternBytes = 1024 * 1024;
const patternOffsetMiB = 48; // past the 32 MiB filesystem
const helloText = "hello from the Linux AoE initiator";

/** 2048 sectors of 512 bytes, each naming its index: a misplaced sector shows. */
function pattern(): Buffer {
  const filler = "x".repeat(497);
  let text = "";
  for (let i = 0; i < patternBytes / 512; i += 1) {
    text += `sector ${String(i).padStart(6, "0")} ${filler}\n`;
  }
  return Buffer.from(text, "latin1");
}

// The same pattern, made by busybox awk in the guest.
const guestScript = `
p=/tmp/pattern
awk 'BEGIN { f = sprintf("%497s", ""); gsub(/ /, "x", f)
  for (i = 0; i < ${patternBytes / 512}; i++) printf "sector %06d %s\\n", i, f }' > $p
dd if=$p of="$EP_DISK" bs=1M seek=${patternOffsetMiB} count=1 oflag=direct 2>/dev/null
dd if="$EP_DISK" of=/tmp/back bs=1M skip=${patternOffsetMiB} count=1 iflag=direct 2>/dev/null
cmp $p /tmp/back
echo "pattern $(md5sum < $p | cut -d ' ' -f 1)"
echo "readback $(md5sum < /tmp/back | cut -d ' ' -f 1)"
echo "payload $(cat "/sys/block/etherd!$ep_device/payload")"
mke2fs -L etherplane "$EP_DISK" 32768 >&2
mount -t ext4 "$EP_DISK" /mnt
echo "${helloText}" > /mnt/hello.txt
mkdir /mnt/dir
cp $p /mnt/dir/pattern.bin
sync
umount /mnt
echo "filesystem written"
`;

function md5(data: Buffer): string {
  return createHash("md5").update(data).digest("hex");
}

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

/** Runs a host tool and returns its exit code and output, without throwing on failure. */
function runTool(command: string, args: readonly string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
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
          assert.equal(result.exitCode, 0, result.console);
          await stop(vblade);

          const expected = pattern();
          const sum = md5(expected);
          // Payload bytes per frame: (MTU - 36) / 512 sectors (AoE and ATA headers).
          const payload = Math.floor((mtu - 36) / 512) * 512;
          assert.deepEqual(result.lines, [
            `pattern ${sum}`,
            `readback ${sum}`,
            `payload ${payload}`,
            "filesystem written",
          ]);
          assert.match(
            result.stages.find((s) => s.name === "READY")?.detail ?? "",
            /131072 sectors/,
          );

          const file = await open(disk, "r");
          try {
            const onDisk = Buffer.alloc(patternBytes);
            await file.read(onDisk, 0, patternBytes, patternOffsetMiB * 1024 * 1024);
            assert.ok(onDisk.equals(expected), "the pattern is in the backing file at 48 MiB");
          } finally {
            await file.close();
          }

          const fsck = await runTool("e2fsck", ["-fn", disk]);
          assert.equal(fsck.code, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
          const cat = await runTool("debugfs", ["-R", "cat /hello.txt", disk]);
          assert.equal(cat.stdout, `${helloText}\n`);
          const dumped = join(dir, "pattern.bin");
          const dump = await runTool("debugfs", ["-R", `dump /dir/pattern.bin ${dumped}`, disk]);
          assert.equal(dump.code, 0, dump.stderr);
          assert.equal(md5(await readFile(dumped)), sum);
        } finally {
          await net.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
    );
  }
});
