/**
 * Boots a Xen 4.17 host under QEMU/TCG (no KVM needed), runs a shell script in its PV dom0 and
 * reads the results off the serial console, where Xen (`console=com1`) and dom0 (`hvc0`, through
 * Xen) both write. The boot line is the one test-lab.md records as working here:
 * - `-cpu qemu64,+svm,+npt`: `-cpu max` crashes the PV dom0 (SMAP emulation); NPT is what PVH
 *   guests need, Debian's Xen having no shadow paging;
 * - `bootscrub=0`: Xen does not scrub the free memory at boot (saves ~1 GiB of host RSS and time);
 * - `-initrd "<vmlinux> <args>,<initramfs>"`: the multiboot modules, dom0's kernel first. A comma
 *   inside a module's arguments would have to be written `,,`, so none is allowed.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { createLogger } from "../../../src/foundation/log.js";
import { GuestConsole, type GuestStage } from "../linux-guest/guest-console.js";
import { composeInitrd, type InitramfsFile } from "../linux-guest/initramfs.js";
import { runQemu } from "../linux-guest/qemu-guest.js";
import { fetchXenHostImage, type XenHostImage } from "./host-image.js";

const log = createLogger("lab:xen-host");

const timeoutMsDefault = 120_000;
const timeoutMsMax = 30 * 60_000;
const scriptBytesMax = 1024 * 1024;
/** dom0 lives in RAM: after `@@! EXIT` nothing is lost if QEMU is killed rather than halted. */
const poweroffGraceMs = 3_000;

export interface XenHostOptions {
  /**
   * busybox sh script run under `sh -e` in dom0 once xenstored, xen-init-dom0 and xenconsoled
   * are up, in /tmp, with the Xen tools on PATH. Its stdout becomes `lines`; its stderr goes to
   * the console only.
   */
  script: string;
  /** More files for dom0 (paths under `ep/`). */
  files?: readonly InitramfsFile[];
  /** Whole boot, script and poweroff; QEMU is killed past it, and dom0 kills the script. */
  timeoutMs?: number;
  /** The machine's memory; dom0 gets `dom0MemMiB` of it, Xen and guests the rest. */
  memoryMiB?: number;
  dom0MemMiB?: number;
  cpus?: number;
  /** Called with QEMU once it is spawned, e.g. to kill it from a test's `after`. */
  onSpawn?: (child: ChildProcess) => void;
  cacheDir?: string;
}

export interface XenHostResult {
  exitCode: number;
  /** The script's stdout lines. */
  lines: string[];
  /** The whole serial console: Xen's `(XEN)` lines, dom0's kernel and /init, the script. */
  console: string;
  /** INIT, XEN (with the hypervisor version), DONE: dom0 uptime and host arrival time. */
  stages: GuestStage[];
  elapsedMs: number;
}

function invalid(message: string): never {
  throw new EtherplaneError("INVALID_ARGUMENT", message);
}

function validate(options: XenHostOptions): void {
  if (Buffer.byteLength(options.script) > scriptBytesMax) {
    invalid(`script is over ${scriptBytesMax} bytes`);
  }
  const timeoutMs = options.timeoutMs ?? timeoutMsDefault;
  if (!(timeoutMs >= 1000 && timeoutMs <= timeoutMsMax)) invalid(`timeoutMs ${timeoutMs}`);
  const memory = options.memoryMiB ?? 2048;
  const dom0 = options.dom0MemMiB ?? 512;
  if (!Number.isInteger(memory) || memory < 1024 || memory > 16_384) invalid(`memoryMiB ${memory}`);
  if (!Number.isInteger(dom0) || dom0 < 256 || dom0 > memory - 256) invalid(`dom0MemMiB ${dom0}`);
  const cpus = options.cpus ?? 2;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 8) invalid(`cpus ${cpus}`);
  for (const file of options.files ?? []) {
    if (!/^ep\/[\w./-]+$/.test(file.path) || file.path.split("/").includes("..")) {
      invalid(`dom0 file path ${file.path} is not under ep/`);
    }
  }
}

/** Per process and cache folder: the image is looked up once. */
const prepared = new Map<string, Promise<XenHostImage>>();

/** Fetches and builds the host image (once per process), so a `before` hook can warm the cache. */
export function prepareXenHost(options: { cacheDir?: string } = {}): Promise<XenHostImage> {
  const key = options.cacheDir ?? "";
  let pending = prepared.get(key);
  if (!pending) {
    pending = fetchXenHostImage(options);
    pending.catch(() => prepared.delete(key));
    prepared.set(key, pending);
  }
  return pending;
}

export function qemuXenArgs(o: {
  image: XenHostImage;
  initrd: string;
  dom0Cmdline: string;
  memoryMiB: number;
  dom0MemMiB: number;
  cpus: number;
}): string[] {
  for (const path of [o.image.xenPath, o.image.dom0KernelPath, o.initrd]) {
    if (/[\s,]/.test(path)) invalid(`boot file path ${path} holds a space or a comma`);
  }
  if (o.dom0Cmdline.includes(",")) invalid(`dom0 command line ${o.dom0Cmdline} holds a comma`);
  const xenCmdline = [
    "console=com1",
    "com1=115200,8n1",
    `dom0_mem=${o.dom0MemMiB}M,max:${o.dom0MemMiB}M`,
    "bootscrub=0",
  ].join(" ");
  return [
    ...["-machine", "pc", "-accel", "tcg", "-cpu", "qemu64,+svm,+npt"],
    ...["-m", String(o.memoryMiB), "-smp", String(o.cpus)],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"],
    ...["-kernel", o.image.xenPath, "-append", xenCmdline],
    ...["-initrd", `${o.image.dom0KernelPath} ${o.dom0Cmdline},${o.initrd}`],
  ];
}

/** Boots Xen, runs `options.script` in dom0 and returns what it printed. */
export async function bootXenHost(options: XenHostOptions): Promise<XenHostResult> {
  validate(options);
  const timeoutMs = options.timeoutMs ?? timeoutMsDefault;
  const image = await prepareXenHost({ cacheDir: options.cacheDir });
  const workDir = await mkdtemp(join(tmpdir(), "ep-xen-host-"));
  let child: ChildProcess | undefined;
  try {
    const initrd = join(workDir, "dom0-initrd.cpio");
    await composeInitrd(
      image.dom0InitramfsPath,
      [{ path: "ep/script.sh", content: options.script, mode: 0o755 }, ...(options.files ?? [])],
      workDir,
      initrd,
    );
    const dom0Cmdline = [
      "console=hvc0",
      "earlyprintk=xen",
      "quiet",
      "panic=-1", // a dying /init reboots dom0, Xen then reboots, and -no-reboot ends QEMU
      `ep_script_s=${Math.ceil(timeoutMs / 1000)}`,
    ].join(" ");
    const args = qemuXenArgs({
      image,
      initrd,
      dom0Cmdline,
      memoryMiB: options.memoryMiB ?? 2048,
      dom0MemMiB: options.dom0MemMiB ?? 512,
      cpus: options.cpus ?? 2,
    });
    const startMs = Date.now();
    const host = new GuestConsole(startMs);
    const stderr = { text: "" };
    log.debug("booting xen host", { args: args.join(" ") });
    child = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
    options.onSpawn?.(child);
    const timedOut = await runQemu(child, host, stderr, timeoutMs, poweroffGraceMs);
    const elapsedMs = Date.now() - startMs;
    const context = () =>
      (stderr.text.trim() ? `\n--- QEMU stderr ---\n${stderr.text.trim()}` : "") +
      `\n--- console tail ---\n${host.tail(60)}`;
    if (timedOut) {
      throw new EtherplaneError(
        "TIMEOUT",
        `Xen host did not finish in ${timeoutMs} ms${context()}`,
        {
          params: { elapsedMs },
        },
      );
    }
    if (host.failure !== undefined) {
      throw new EtherplaneError("UNAVAILABLE", `dom0 setup failed: ${host.failure}${context()}`, {
        params: { elapsedMs },
      });
    }
    if (host.exitCode === undefined) {
      throw new EtherplaneError(
        "IO_ERROR",
        `QEMU exited (${child.exitCode ?? child.signalCode}) before dom0 reported EXIT${context()}`,
        { params: { elapsedMs } },
      );
    }
    return {
      exitCode: host.exitCode,
      lines: host.lines,
      console: host.console,
      stages: host.stages,
      elapsedMs,
    };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await rm(workDir, { recursive: true, force: true });
  }
}
