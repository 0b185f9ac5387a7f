/**
 * Boots Debian's kernel under QEMU/TCG with the lab initramfs, lets `/init` attach the AoE disk
 * and runs a shell script against it, then reads the results off the serial console.
 *
 * QEMU runs inside the bridge namespace (`ip netns exec`). Its tap is created beforehand as a
 * persistent tap, enslaved to the bridge and brought up, then opened by QEMU by name: the port is
 * forwarding before the guest can see carrier, so aoe.ko's discovery broadcast is never lost to a
 * tap that is not yet on the bridge. The tap is deleted after the boot.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkAoeAddress, readEtherdPath } from "../../../src/aoe/codec/address.js";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { createLogger } from "../../../src/foundation/log.js";
import type { Namespace, TestNet } from "../netns.js";
import { GuestConsole, type GuestStage } from "./guest-console.js";
import { validateMtu } from "./guest-network.js";
import { cacheRoot } from "./cache.js";
import { composeInitrd, ensureBaseInitramfs, type InitramfsFile } from "./initramfs.js";
import { fetchGuestKernel, type GuestKernel } from "./kernel.js";

const log = createLogger("lab:linux-guest");

const timeoutMsDefault = 120_000;
const timeoutMsMax = 30 * 60_000;
const readyTimeoutSDefault = 30;
const scriptBytesMax = 1024 * 1024;
/** After `@@! EXIT`, QEMU gets this long to power off before it is killed. */
const poweroffGraceMs = 10_000;

export interface LinuxAoeGuestOptions {
  /** QEMU is adopted by it, so `net.close()` kills a guest left running by a failed test. */
  net?: TestNet;
  /** The namespace holding `bridge`; QEMU runs in it. */
  bridgeNs: Namespace;
  bridge: string;
  /** MTU of the tap and the guest's interface; the bridge must already have it. */
  mtu: number;
  /** The AoE device the guest waits for before the script runs: `e<shelf>.<slot>`. */
  device: string;
  /**
   * busybox sh script run under `sh -e` once the disk is ready, in /tmp, with EP_DISK
   * (`/dev/etherd/e1.0`), EP_IF and EP_MTU set. Its stdout becomes `lines`; its stderr goes to
   * the console only.
   */
  script: string;
  /** More files for the guest (paths under `ep/`, e.g. a static helper binary). */
  files?: readonly InitramfsFile[];
  /** aoe.ko parameters besides aoe_iflist, e.g. `{ aoe_deadsecs: 10 }`. */
  aoeParams?: Readonly<Record<string, string | number>>;
  /** Run AoE over `eth0.<vlanId>` (loads 8021q in the guest). */
  vlanId?: number;
  /** The guest's MAC; a locally administered one unique to this process and boot by default. */
  mac?: string;
  /**
   * Whole boot, script and poweroff; QEMU is killed past it. The guest also kills the script
   * past it, so a guest whose test process died powers itself off.
   */
  timeoutMs?: number;
  /** How long the guest waits for carrier, and then for the disk. */
  readyTimeoutS?: number;
  memoryMiB?: number;
  cacheDir?: string;
}

export interface LinuxAoeGuestResult {
  exitCode: number;
  /** The script's stdout lines. */
  lines: string[];
  /** The whole serial console: kernel messages, /init's marks, the script's output. */
  console: string;
  /** INIT, NET, READY, DONE with guest uptime and host arrival time. */
  stages: GuestStage[];
  mac: string;
  elapsedMs: number;
}

let bootCounter = 0;

function invalid(message: string): never {
  throw new EtherplaneError("INVALID_ARGUMENT", message);
}

function validate(options: LinuxAoeGuestOptions): void {
  validateMtu(options.mtu);
  const device = readEtherdPath(`/dev/etherd/${options.device}`);
  if (device === undefined || checkAoeAddress(device) !== undefined) {
    invalid(`device ${options.device} is not e<shelf 0-65534>.<slot 0-254>`);
  }
  if (Buffer.byteLength(options.script) > scriptBytesMax) {
    invalid(`script is over ${scriptBytesMax} bytes`);
  }
  const timeoutMs = options.timeoutMs ?? timeoutMsDefault;
  if (!(timeoutMs >= 1000 && timeoutMs <= timeoutMsMax)) invalid(`timeoutMs ${timeoutMs}`);
  const readyS = options.readyTimeoutS ?? readyTimeoutSDefault;
  if (!Number.isInteger(readyS) || readyS < 1 || readyS > 600) invalid(`readyTimeoutS ${readyS}`);
  const vlan = options.vlanId;
  if (vlan !== undefined && !(Number.isInteger(vlan) && vlan >= 1 && vlan <= 4094)) {
    invalid(`vlanId ${vlan} is outside 1..4094`);
  }
  const memory = options.memoryMiB ?? 512;
  if (!Number.isInteger(memory) || memory < 128 || memory > 4096) invalid(`memoryMiB ${memory}`);
  // Unicast (bit 0 of the first byte clear): the guest's frames carry it as source address.
  if (options.mac !== undefined && !/^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/i.test(options.mac)) {
    invalid(`mac ${options.mac} is not a unicast MAC address`);
  }
  for (const [key, value] of Object.entries(options.aoeParams ?? {})) {
    // Words only: /init splits the parameter file on whitespace.
    if (!/^aoe_\w+$/.test(key) || key === "aoe_iflist" || !/^[\w.,:-]+$/.test(String(value))) {
      invalid(`aoe parameter ${key}=${value}`);
    }
  }
  for (const file of options.files ?? []) {
    if (!/^ep\/[\w./-]+$/.test(file.path) || file.path.split("/").includes("..")) {
      invalid(`guest file path ${file.path} is not under ep/`);
    }
  }
}

function defaultMac(boot: number): string {
  const bytes = [0x02, 0xe9, (process.pid >> 8) & 0xff, process.pid & 0xff, boot >> 8, boot];
  return bytes.map((byte) => (byte & 0xff).toString(16).padStart(2, "0")).join(":");
}

interface PreparedGuest {
  kernel: GuestKernel;
  initramfsPath: string;
}
/** Per process and cache folder: asking apt alone takes ~1 s here. */
const prepared = new Map<string, Promise<PreparedGuest>>();

/**
 * Fetches the kernel and builds the base initramfs (once per process), so that a test can warm
 * the cache in a `before` hook and give its boots timeouts that cover QEMU alone.
 */
export function prepareLinuxGuest(options: { cacheDir?: string } = {}): Promise<PreparedGuest> {
  const cacheDir = options.cacheDir ?? cacheRoot();
  let pending = prepared.get(cacheDir);
  if (!pending) {
    pending = (async () => {
      const kernel = await fetchGuestKernel({ cacheDir });
      const initramfsPath = await ensureBaseInitramfs(kernel, { cacheDir });
      return { kernel, initramfsPath };
    })();
    // A failed preparation is not remembered: the next boot tries again.
    pending.catch(() => prepared.delete(cacheDir));
    prepared.set(cacheDir, pending);
  }
  return pending;
}

async function addTap(ns: Namespace, tap: string, bridge: string, mtu: number): Promise<void> {
  await ns.exec("ip", ["tuntap", "add", "dev", tap, "mode", "tap"]);
  await ns.exec("ip", ["link", "set", tap, "mtu", String(mtu)]);
  await ns.exec("ip", ["link", "set", tap, "master", bridge]);
  await ns.exec("ip", ["link", "set", tap, "up"]);
}

function qemuArgs(o: {
  kernel: GuestKernel;
  initrd: string;
  cmdline: string;
  tap: string;
  mac: string;
  memoryMiB: number;
}): string[] {
  return [
    ...["-machine", "pc", "-accel", "tcg", "-m", String(o.memoryMiB), "-smp", "1"],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"],
    ...["-kernel", o.kernel.bootImagePath, "-initrd", o.initrd, "-append", o.cmdline],
    ...["-netdev", `tap,id=n0,ifname=${o.tap},script=no,downscript=no`],
    // romfile= skips the iPXE option ROM, which a direct kernel boot never uses.
    ...["-device", `virtio-net-pci,netdev=n0,mac=${o.mac},romfile=`],
  ];
}

/** Runs QEMU to its exit (or kill), feeding the console; true when it was killed by the timeout. */
export function runQemu(
  child: ChildProcess,
  guest: GuestConsole,
  stderr: { text: string },
  timeoutMs: number,
  graceMs = poweroffGraceMs,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      guest.push(chunk, Date.now());
      if (guest.exitCode !== undefined && !graceTimer) {
        graceTimer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      }
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      stderr.text = (stderr.text + chunk).slice(-16_384);
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      reject(
        new EtherplaneError("UNAVAILABLE", `cannot start QEMU: ${error.message}`, { cause: error }),
      );
    });
    child.once("close", () => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      guest.end(Date.now());
      resolve(timedOut);
    });
  });
}

/** Boots a guest, runs `options.script` against the AoE disk and returns what it printed. */
export async function bootLinuxAoeGuest(
  options: LinuxAoeGuestOptions,
): Promise<LinuxAoeGuestResult> {
  validate(options);
  const timeoutMs = options.timeoutMs ?? timeoutMsDefault;
  bootCounter += 1;
  const boot = bootCounter;
  const mac = options.mac ?? defaultMac(boot);
  const tap = `ep${process.pid % 100_000}t${boot % 10_000}`;
  const { kernel, initramfsPath } = await prepareLinuxGuest({ cacheDir: options.cacheDir });

  const workDir = await mkdtemp(join(tmpdir(), "ep-guest-"));
  let child: ChildProcess | undefined;
  let tapAdded = false;
  try {
    const aoeParams = Object.entries(options.aoeParams ?? {}).map(([k, v]) => `${k}=${v}`);
    const initrd = join(workDir, "initrd.cpio");
    await composeInitrd(
      initramfsPath,
      [
        { path: "ep/script.sh", content: options.script, mode: 0o755 },
        { path: "ep/aoe-params", content: aoeParams.join("\n") + "\n" },
        ...(options.files ?? []),
      ],
      workDir,
      initrd,
    );
    const cmdline = [
      "console=ttyS0",
      "quiet",
      "panic=-1", // a dying /init reboots, and -no-reboot turns that into QEMU's exit
      `ep_mtu=${options.mtu}`,
      `ep_device=${options.device}`,
      `ep_ready_s=${options.readyTimeoutS ?? readyTimeoutSDefault}`,
      `ep_script_s=${Math.ceil(timeoutMs / 1000)}`,
      ...(options.vlanId === undefined ? [] : [`ep_vlan=${options.vlanId}`]),
    ].join(" ");

    await addTap(options.bridgeNs, tap, options.bridge, options.mtu);
    tapAdded = true;
    const startMs = Date.now();
    const guest = new GuestConsole(startMs);
    const stderr = { text: "" };
    const args = qemuArgs({
      kernel,
      initrd,
      cmdline,
      tap,
      mac,
      memoryMiB: options.memoryMiB ?? 512,
    });
    log.debug("booting guest", { ns: options.bridgeNs.name, tap, mac, cmdline });
    child = options.bridgeNs.spawn("qemu-system-x86_64", args, {
      stdio: ["ignore", "pipe", "pipe"],
    });
    options.net?.adopt(child);
    const timedOut = await runQemu(child, guest, stderr, timeoutMs);
    const elapsedMs = Date.now() - startMs;
    const context = () =>
      (stderr.text.trim() ? `\n--- QEMU stderr ---\n${stderr.text.trim()}` : "") +
      `\n--- console tail ---\n${guest.tail()}`;
    const params = { device: options.device, mtu: options.mtu, tap, mac, elapsedMs };
    if (timedOut) {
      throw new EtherplaneError("TIMEOUT", `guest did not finish in ${timeoutMs} ms${context()}`, {
        params,
      });
    }
    if (guest.failure !== undefined) {
      throw new EtherplaneError("UNAVAILABLE", `guest setup failed: ${guest.failure}${context()}`, {
        params,
      });
    }
    if (guest.exitCode === undefined) {
      throw new EtherplaneError(
        "IO_ERROR",
        `QEMU exited (${child.exitCode ?? child.signalCode}) before the guest reported EXIT${context()}`,
        { params },
      );
    }
    log.debug("guest finished", {
      exitCode: guest.exitCode,
      elapsedMs,
      stages: guest.stages.map((s) => `${s.name}@${s.uptimeS}s/${s.hostMs}ms`).join(" "),
    });
    return {
      exitCode: guest.exitCode,
      lines: guest.lines,
      console: guest.console,
      stages: guest.stages,
      mac,
      elapsedMs,
    };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    if (tapAdded) {
      // QEMU may still be closing the tap: give the deletion a few tries.
      await options.bridgeNs.deleteTap(tap);
    }
    await rm(workDir, { recursive: true, force: true });
  }
}
