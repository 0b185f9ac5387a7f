/**
 * KVM or TCG. An openable /dev/kvm is not proof that KVM works: on some nested hosts KVM runs
 * real-mode code but hangs once the guest turns on paging and long mode (seen on this project's
 * build machines: SeaBIOS and the kernel's real-mode setup ran, the 64-bit kernel never printed).
 * So "auto" boots a 64 KiB probe firmware under KVM that does what every 64-bit kernel does
 * first (protected mode, PAE paging, long mode) and then writes to QEMU's isa-debug-exit port;
 * only a probe that exits that way within the timeout selects KVM.
 */
import { constants } from "node:fs";
import { access, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "../../foundation/log.js";
import { runHostCommand } from "./host-command.js";
import type { QemuAccel } from "./qemu-argv.js";
import { errorFields } from "../../foundation/errors.js";

const log = createLogger("hypervisor:qemu");

export type AccelOption = QemuAccel | "auto";

const probeTimeoutMs = 3000;
const firmwareBytes = 64 * 1024;
/** The reset vector, 16 bytes below 4 GiB, i.e. at this offset of a 64 KiB BIOS image. */
const resetVectorOffset = 0xfff0;
/** isa-debug-exit makes QEMU exit with (value << 1) | 1: the probe writes 1, so 3. */
const probeExitCode = 3;
const debugExitPort = 0xf4;

/**
 * The probe's code, linked at 0xF0000 (GNU as, then `ld -Ttext=0xF0000 --oformat binary`):
 *
 *   .code16: cli; lgdtl %cs:gdt_desc; cr0.PE=1; ljmpl $0x08,$pm32
 *   .code32 pm32: ds=es=ss=0x10; PML4[0]=0x2003 @0x1000, PDPT[0]=0x3003 @0x2000,
 *     PD[0]=0x83 (2 MiB page) @0x3000; cr3=0x1000; cr4.PAE=1; EFER.LME=1 (rdmsr/wrmsr
 *     0xC0000080); cr0.PG=1; ljmp $0x18,$lm64
 *   .code64 lm64: mov $1,%al; out %al,$0xf4; 1: hlt; jmp 1b
 *   gdt: null, code32 0x00CF9A000000FFFF, data 0x00CF92000000FFFF, code64 0x00AF9A000000FFFF
 */
const probeCodeHex =
  "fa2e660f0116a0000f20c06683c8010f22c066ea1a000f00080066b810008ed88ec08ed0c7050010000003200000" +
  "c7050020000003300000c7050030000083000000b8001000000f22d80f20e083c8200f22e0b9800000c00f320d00" +
  "0100000f300f20c00d000000800f22c0ea73000f001800b001e6f4f4ebfd8db4000066900000000000000000ffff" +
  "0000009acf00ffff00000092cf00ffff0000009aaf001f0080000f00";
/** At the reset vector: ljmp $0xf000,$0 (to the code above). */
const resetJumpHex = "ea000000f0";

export function kvmProbeFirmware(): Buffer {
  const image = Buffer.alloc(firmwareBytes, 0xf4); // hlt everywhere else
  Buffer.from(probeCodeHex, "hex").copy(image, 0);
  Buffer.from(resetJumpHex, "hex").copy(image, resetVectorOffset);
  return image;
}

async function kvmDeviceUsable(): Promise<boolean> {
  return access("/dev/kvm", constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
}

/** Whether KVM really runs 64-bit code here (see above); `scratchDir` holds the probe image. */
export async function probeKvm(qemuBinary: string, scratchDir: string): Promise<boolean> {
  if (!(await kvmDeviceUsable())) return false;
  const image = join(scratchDir, `.kvm-probe-${process.pid}.bin`);
  await writeFile(image, kvmProbeFirmware());
  try {
    const argv = [
      qemuBinary,
      ...["-accel", "kvm", "-machine", "pc", "-m", "16", "-bios", image],
      ...["-nodefaults", "-no-user-config", "-display", "none"],
      ...["-device", `isa-debug-exit,iobase=${debugExitPort},iosize=1`],
    ];
    const result = await runHostCommand({ netns: undefined }, argv, probeTimeoutMs).catch(
      (error: unknown) => {
        log.info("KVM probe did not finish: using TCG", { ...errorFields(error) });
        return undefined;
      },
    );
    return result?.code === probeExitCode;
  } finally {
    await rm(image, { force: true });
  }
}

export async function resolveAccel(
  option: AccelOption,
  qemuBinary: string,
  scratchDir: string,
): Promise<QemuAccel> {
  if (option !== "auto") return option;
  const kvm = await probeKvm(qemuBinary, scratchDir);
  log.info("accelerator chosen", { accel: kvm ? "kvm" : "tcg" });
  return kvm ? "kvm" : "tcg";
}
