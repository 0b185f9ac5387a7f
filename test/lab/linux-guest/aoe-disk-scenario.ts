/**
 * The disk scenario the real Linux AoE initiator runs in the guest, shared by the tests against
 * vblade (which prove the lab) and against etherplane's target (which prove the target): a 1 MiB
 * pattern written and read back with O_DIRECT (busybox dd oflag=direct / iflag=direct), then an
 * ext2 filesystem made, mounted and written. `verifyLinuxAoeScenario` then checks the backing file
 * byte for byte on the host, with e2fsck -fn and with debugfs.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { runTool } from "../netns.js";
import type { LinuxAoeGuestResult } from "./index.js";

export const diskBytes = 64 * 1024 * 1024;
export const patternBytes = 1024 * 1024;
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
export const guestScript = `
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

/** Checks what the guest printed and what landed in the backing file `disk`. */
export async function verifyLinuxAoeScenario(
  result: LinuxAoeGuestResult,
  disk: string,
  dir: string,
  mtu: number,
): Promise<void> {
  assert.equal(result.exitCode, 0, result.console);
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
    new RegExp(`${diskBytes / 512} sectors`),
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
}
