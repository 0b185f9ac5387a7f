/**
 * What a Xen host boot is given, checked, and turned into dom0's `/ep/config` and `/ep/shares`
 * (read by dom0-init.ts) and into QEMU's device arguments:
 *
 *   network  virtio-net NICs on taps that are ports of the caller's bridges, inside the caller's
 *            namespace (QEMU runs there); in dom0: eth0, an optional bridge for guests' vifs
 *            (`xenbr0`, eth0 enslaved, as a Xen host is set up), optional addresses, and more
 *            NICs (eth1, ...) for a separate SAN (host-network.ts)
 *   aoe      aoe.ko on the guest bridge (or eth0), optionally waiting for some disks
 *   copies   host files and folders on a read-only ext4 disk (copy-disk.ts): a snapshot, but
 *            far faster than 9p under TCG; `node: true` puts this Node.js at /usr/local/bin/node,
 *            `project: true` what the CLI needs of the repository at /opt/etherplane
 *   shares   host folders over virtio-9p: live (and writable if asked), but ~10 ms per request
 */
import { realpathSync } from "node:fs";
import * as path from "node:path";
import type { ChildProcess } from "node:child_process";
import { checkAoeAddress, readEtherdPath } from "../../../src/aoe/codec/address.js";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import type { InitramfsFile } from "../linux-guest/initramfs.js";
import type { TestNet } from "../netns.js";
import { repoRoot } from "../repo.js";
import type { CopyEntry } from "./copy-disk.js";
import {
  ifnamePattern,
  planNetwork,
  type NetworkPlan,
  type XenHostNetworkOptions,
} from "./host-network.js";

export type { XenHostNetworkOptions, XenHostNicOptions } from "./host-network.js";

export interface XenHostAoeOptions {
  /** aoe.ko's `aoe_iflist`: by default the guest bridge when there is one, else eth0. */
  interface?: string;
  /** AoE disks (`e<shelf>.<slot>`) dom0 waits for (size known, /dev/etherd node made). */
  waitFor?: readonly string[];
  /** More aoe.ko parameters, e.g. `{ aoe_deadsecs: 10 }`. */
  params?: Readonly<Record<string, string | number>>;
}

export interface XenHostShare {
  /** A host folder (no comma or whitespace in the path). */
  hostPath: string;
  /** Where dom0 mounts it; `hostPath` by default. */
  mountPoint?: string;
  /** True by default: QEMU refuses writes (`readonly=on`) and dom0 mounts it `ro`. */
  readOnly?: boolean;
  /**
   * 9p cache mode. `loose` (default when read-only) is fast, but a file dom0 has read once is
   * not read again if the host changes it; `none` (default when writable) always asks the host.
   */
  cache?: "none" | "loose" | "mmap";
}

export interface XenHostCopy {
  /** A host file or folder (no comma or whitespace in the path). */
  hostPath: string;
  /** Where dom0 sees it (a read-only bind mount); `hostPath` by default. */
  mountPoint?: string;
}

/** Options shared by `bootXenHost` and `startXenHost`. */
export interface XenHostCommonOptions {
  /** More files for dom0 (paths under `ep/`); they sit in dom0's RAM. */
  files?: readonly InitramfsFile[];
  /** The machine's memory (MiB); dom0 gets `dom0MemMiB` of it, Xen and guests the rest. */
  memoryMiB?: number;
  dom0MemMiB?: number;
  /** The machine's CPUs (Xen's pCPUs, `xl info` nr_cpus); 2 by default. */
  cpus?: number;
  /** dom0's vCPUs (Xen's dom0_max_vcpus); 1 by default: see host-launch.ts for why. */
  dom0Vcpus?: number;
  /** Called with QEMU once it is spawned, e.g. to kill it from a test's `after`. */
  onSpawn?: (child: ChildProcess) => void;
  /** QEMU is adopted by it, so `net.close()` kills a host left running by a failed test. */
  net?: TestNet;
  network?: XenHostNetworkOptions;
  /** Load aoe.ko in dom0 (needs `network`); `true` for the defaults. */
  aoe?: XenHostAoeOptions | boolean;
  /** Copied into dom0 at boot on a read-only disk (what the host changes later is not seen). */
  copies?: readonly XenHostCopy[];
  /** Live host folders over virtio-9p (slow for many small files under TCG). */
  shares?: readonly XenHostShare[];
  /** This Node.js binary as /usr/local/bin/node (on PATH); dom0 has the libraries it needs. */
  node?: boolean;
  /** package.json, dist/, build/Release and the production node_modules at the repository's own
   * path /opt/etherplane (dom0ProjectPath(cliPath) is the CLI there). Copied at boot: rebuild before starting. */
  project?: boolean;
  /** Size of the tmpfs on /var/lib/etherplane (ETHERPLANE_DATA_DIR), MiB; 64 by default. */
  dataDirMiB?: number;
  /** How long dom0 waits for eth0, carrier, the AoE disks and the control port, each. */
  readyTimeoutS?: number;
  cacheDir?: string;
}

/** What dom0-init.ts reads; every value is a word or a path (checked), quoted anyway. */
export interface Dom0Settings {
  mode: "script" | "session";
  scriptS?: number;
  lifeS?: number;
  port?: string;
  execCap?: number;
}

interface ResolvedShare {
  tag: string;
  hostPath: string;
  mountPoint: string;
  readOnly: boolean;
  cache: string;
}

export interface BootPlan {
  /** Files for the per-boot archive: `ep/config`, `ep/shares`, then the caller's. */
  files: InitramfsFile[];
  /** QEMU arguments for the NIC and the 9p devices (the launcher adds the copy disk). */
  deviceArgs: string[];
  /** What goes on the copy disk; empty for none. */
  copies: CopyEntry[];
  network?: NetworkPlan;
  memoryMiB: number;
  dom0MemMiB: number;
  cpus: number;
  dom0Vcpus: number;
}

const sharesMax = 8;
const copiesMax = 16;
const pathPattern = /^\/[\w./+@-]*$/;

function invalid(message: string): never {
  throw new EtherplaneError("INVALID_ARGUMENT", message);
}

/** `'value'` for busybox sh; values are checked before, this only keeps them literal. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    invalid(`${name} ${value} is outside ${min}..${max}`);
  }
  return value;
}

function checkPath(what: string, path: string): string {
  if (!pathPattern.test(path) || path.split("/").includes("..")) {
    invalid(`${what} ${path} is not an absolute path of word characters, . / + @ -`);
  }
  return path;
}

/** dom0's own folders, where nothing may be mounted (/usr/local excepted). */
/**
 * Where dom0 sees the repository (`project: true`). Not the host's own path: a checkout under
 * /tmp (CI clones there) would hide dom0's /tmp.
 */
export const dom0ProjectRoot = "/opt/etherplane";

/** The dom0 path of a file of the repository, e.g. of `cliPath`. */
export function dom0ProjectPath(hostPath: string): string {
  const relative = path.relative(repoRoot, hostPath);
  if (relative.startsWith("..") || path.isAbsolute(relative))
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${hostPath} is not in the repository ${repoRoot}`,
    );
  return path.posix.join(dom0ProjectRoot, relative);
}

const dom0Folders = [
  ...["/bin", "/sbin", "/lib", "/lib64", "/usr", "/etc", "/dev", "/proc", "/sys", "/run"],
  ...["/tmp", "/ep", "/var/lib/etherplane", "/var/lib/xen", "/var/log/xen"],
];

/** Checks that `mountPoint` leaves dom0's own folders alone and is not taken. */
function checkMountPoint(what: string, mountPoint: string, taken: Set<string>): string {
  checkPath(what, mountPoint);
  // A share over /usr would hide the Xen tools.
  const under = (dir: string) => mountPoint === dir || mountPoint.startsWith(`${dir}/`);
  const reserved = dom0Folders.find(under);
  if (mountPoint === "/" || (reserved && !(under("/usr/local") && mountPoint !== "/usr/local"))) {
    invalid(`${what} ${mountPoint} would hide dom0's ${reserved ?? "/"}`);
  }
  if (taken.has(mountPoint)) invalid(`two mounts on ${mountPoint}`);
  taken.add(mountPoint);
  return mountPoint;
}

/** Where `node: true` puts this Node.js (a bind mount of the binary). */
export const dom0NodePath = "/usr/local/bin/node";

function resolveCopies(options: XenHostCommonOptions, taken: Set<string>): CopyEntry[] {
  const entries: CopyEntry[] = (options.copies ?? []).map((copy) => ({
    source: { kind: "path", hostPath: checkPath("copy hostPath", copy.hostPath) },
    mountPoint: checkMountPoint("copy mountPoint", copy.mountPoint ?? copy.hostPath, taken),
  }));
  if (options.node) {
    entries.push({
      source: { kind: "path", hostPath: realpathSync(process.execPath) },
      mountPoint: checkMountPoint("node", dom0NodePath, taken),
    });
  }
  if (options.project) {
    entries.push({
      source: { kind: "project", root: repoRoot },
      mountPoint: checkMountPoint("project", dom0ProjectRoot, taken),
    });
  }
  if (entries.length > copiesMax) invalid(`${entries.length} copies, over ${copiesMax}`);
  return entries;
}

function resolveShares(options: XenHostCommonOptions, taken: Set<string>): ResolvedShare[] {
  const wanted = options.shares ?? [];
  if (wanted.length > sharesMax) invalid(`${wanted.length} shares, over ${sharesMax}`);
  return wanted.map((share, i) => {
    const hostPath = checkPath("share hostPath", share.hostPath);
    const mountPoint = checkMountPoint("share mountPoint", share.mountPoint ?? hostPath, taken);
    const readOnly = share.readOnly ?? true;
    const cache = share.cache ?? (readOnly ? "loose" : "none");
    if (!["none", "loose", "mmap"].includes(cache)) invalid(`share cache ${String(cache)}`);
    return { tag: `ep${i}`, hostPath, mountPoint, readOnly, cache };
  });
}

function aoeOptions(options: XenHostCommonOptions): XenHostAoeOptions | undefined {
  if (options.aoe === undefined || options.aoe === false) return undefined;
  return options.aoe === true ? {} : options.aoe;
}

/** Checks the options and plans the boot (the tap name and default MAC are per boot). */
export function planBoot(options: XenHostCommonOptions, settings: Dom0Settings): BootPlan {
  const memoryMiB = checkInteger("memoryMiB", options.memoryMiB ?? 2048, 1024, 16_384);
  const dom0MemMiB = checkInteger("dom0MemMiB", options.dom0MemMiB ?? 512, 256, memoryMiB - 256);
  const cpus = checkInteger("cpus", options.cpus ?? 2, 1, 8);
  const dom0Vcpus = checkInteger("dom0Vcpus", options.dom0Vcpus ?? 1, 1, cpus);
  const dataMiB = checkInteger("dataDirMiB", options.dataDirMiB ?? 64, 1, dom0MemMiB / 2);
  const readyS = checkInteger("readyTimeoutS", options.readyTimeoutS ?? 30, 1, 600);
  for (const file of options.files ?? []) {
    if (!/^ep\/[\w./-]+$/.test(file.path) || file.path.split("/").includes("..")) {
      invalid(`dom0 file path ${file.path} is not under ep/`);
    }
    if (["ep/config", "ep/shares", "ep/nics", "ep/copies", "ep/script.sh"].includes(file.path)) {
      invalid(`dom0 file path ${file.path} is the lab's own`);
    }
  }
  const config: Record<string, string | number | undefined> = {
    ep_mode: settings.mode,
    ep_script_s: settings.scriptS,
    ep_life_s: settings.lifeS,
    ep_port: settings.port,
    ep_exec_cap: settings.execCap,
    ep_ready_s: readyS,
    ep_data_mib: dataMiB,
  };
  const deviceArgs: string[] = [];

  let network: NetworkPlan | undefined;
  if (options.network) {
    network = planNetwork(options.network);
    const eth0 = network.nics[0];
    Object.assign(config, {
      ep_net: 1,
      ep_mtu: eth0?.mtu,
      ep_bridge: network.guestBridge,
      ep_addr: eth0?.address,
    });
    deviceArgs.push(...network.qemuArgs);
  }

  const aoe = aoeOptions(options);
  if (aoe) {
    if (!options.network) invalid("aoe needs network");
    const iface = aoe.interface ?? options.network.guestBridge ?? "eth0";
    const known = [...(network?.nics.map((nic) => nic.ifname) ?? []), network?.guestBridge];
    if (!known.includes(iface)) invalid(`aoe interface ${iface} is none of ${known.join(", ")}`);
    if (!ifnamePattern.test(iface)) invalid(`aoe interface ${iface} is not an interface name`);
    for (const device of aoe.waitFor ?? []) {
      const address = readEtherdPath(`/dev/etherd/${device}`);
      if (address === undefined || checkAoeAddress(address) !== undefined) {
        invalid(`AoE device ${device} is not e<shelf 0-65534>.<slot 0-254>`);
      }
    }
    const params = Object.entries(aoe.params ?? {}).map(([key, value]) => {
      if (!/^aoe_\w+$/.test(key) || key === "aoe_iflist" || !/^[\w.:-]+$/.test(String(value))) {
        invalid(`aoe parameter ${key}=${value}`);
      }
      return `${key}=${value}`;
    });
    Object.assign(config, {
      ep_aoe_if: iface,
      ep_aoe_wait: (aoe.waitFor ?? []).join(" ") || undefined,
      ep_aoe_params: params.join(" ") || undefined,
    });
  }

  const taken = new Set<string>();
  const copies = resolveCopies(options, taken);
  const shares = resolveShares(options, taken);
  for (const share of shares) {
    deviceArgs.push(
      "-fsdev",
      `local,id=${share.tag},path=${share.hostPath},security_model=none` +
        (share.readOnly ? ",readonly=on" : ""),
      "-device",
      `virtio-9p-pci,fsdev=${share.tag},mount_tag=${share.tag}`,
    );
  }

  const configText = Object.entries(config)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${shellQuote(String(value))}\n`)
    .join("");
  const sharesText = shares
    .map((s) => `${s.tag} ${s.mountPoint} ${s.readOnly ? "ro" : "rw"} ${s.cache}\n`)
    .join("");
  return {
    files: [
      { path: "ep/config", content: configText },
      { path: "ep/shares", content: sharesText },
      { path: "ep/nics", content: network?.extraNicsFile ?? "" },
      ...(options.files ?? []),
    ],
    deviceArgs,
    copies,
    network,
    memoryMiB,
    dom0MemMiB,
    cpus,
    dom0Vcpus,
  };
}
