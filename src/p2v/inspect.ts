/**
 * What P2V learns about the source: one shell script run over SSH prints `@@section` headers and
 * each command's output (POSIX sh and tools busybox also has), parsed here. Pure.
 */
import { EtherplaneError } from "../foundation/errors.js";
import { parseDfP, type DfRow } from "./df.js";
import type { InitSystem } from "./edits.js";
import { parseMounts, type Mount } from "./mounts.js";
import { parseVlanConfig, type SourceVlan } from "./vlan.js";

/** Runs on the source; reads only. Every section prints even when its command fails. */
export const INSPECT_SCRIPT = [
  "export LC_ALL=C",
  "echo @@mounts; cat /proc/self/mounts",
  "echo @@df; df -P -k 2>/dev/null",
  "echo @@kernel; uname -r",
  "echo @@hostname; cat /etc/hostname 2>/dev/null || hostname",
  "echo @@memory; grep '^MemTotal:' /proc/meminfo",
  "echo @@cpus; grep -c '^processor' /proc/cpuinfo",
  "echo @@init; readlink -f /sbin/init; [ -d /run/systemd/system ] && echo systemd-running",
  "echo @@route; ip route show default 2>/dev/null",
  "echo @@boot; ls -1 /boot 2>/dev/null",
  "echo @@vlan; cat /proc/net/vlan/config 2>/dev/null",
  "echo @@tools; for t in tar rsync; do command -v $t; done; tar --version 2>&1 | head -n 1",
  "echo @@end",
].join("\n");

export interface SourceFacts {
  mounts: Mount[];
  df: DfRow[];
  kernel: string;
  hostname: string;
  memoryBytes: number;
  cpus: number;
  init: InitSystem;
  /** The interface of the default route. */
  primaryInterface: string | undefined;
  bootFiles: string[];
  /** The 802.1q VLAN interfaces (/proc/net/vlan/config). */
  vlans: SourceVlan[];
  hasRsync: boolean;
  /** GNU tar (--acls, --xattrs, --sparse); busybox tar keeps owners, modes and links only. */
  gnuTar: boolean;
}

const SECTION = /^@@([a-z]+)$/;
const OUTPUT_BYTES_MAX = 1024 * 1024;

export function parseSections(text: string): Map<string, string[]> {
  if (text.length > OUTPUT_BYTES_MAX)
    throw new EtherplaneError(
      "PROTOCOL",
      `the source's inspection printed over ${OUTPUT_BYTES_MAX} bytes`,
    );
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    const match = SECTION.exec(line);
    if (match?.[1]) sections.set(match[1], (current = []));
    else if (line !== "") current?.push(line);
  }
  if (!sections.has("end"))
    throw new EtherplaneError(
      "PROTOCOL",
      "the source's inspection stopped before its end (is /bin/sh a POSIX shell?)",
    );
  return sections;
}

export function decideInit(initLines: readonly string[]): InitSystem {
  if (initLines.includes("systemd-running")) return "systemd";
  const init = initLines[0] ?? "";
  if (/systemd/.test(init)) return "systemd";
  if (/busybox/.test(init)) return "busybox";
  if (/openrc/.test(init)) return "openrc";
  if (/\/init$/.test(init)) return "sysvinit";
  return "unknown";
}

export function parseFacts(text: string): SourceFacts {
  const s = parseSections(text);
  const get = (name: string) => s.get(name) ?? [];
  const memKib = /^MemTotal:\s+(\d+)\s*kB/.exec(get("memory")[0] ?? "");
  const route = /\bdev\s+(\S+)/.exec(get("route")[0] ?? "");
  return {
    mounts: parseMounts(get("mounts").join("\n")),
    df: get("df").length > 0 ? parseDfP(get("df").join("\n")) : [],
    kernel: get("kernel")[0] ?? "",
    hostname: (get("hostname")[0] ?? "").trim(),
    memoryBytes: memKib ? Number(memKib[1]) * 1024 : 0,
    cpus: Math.max(1, Number(get("cpus")[0] ?? "1") || 1),
    init: decideInit(get("init")),
    primaryInterface: route?.[1],
    bootFiles: get("boot"),
    vlans: parseVlanConfig(get("vlan").join("\n")),
    hasRsync: get("tools").some((l) => l.endsWith("/rsync")),
    gnuTar: get("tools").some((l) => /GNU tar/.test(l)),
  };
}

/** The source's kernel and initrd in /boot for `uname -r` (Debian's and most distributions' names). */
export function findKernel(
  facts: Pick<SourceFacts, "kernel" | "bootFiles">,
): { kernel: string; initrd: string | undefined } | undefined {
  const v = facts.kernel;
  const kernel = [`vmlinuz-${v}`, `vmlinuz`].find((f) => facts.bootFiles.includes(f));
  if (!kernel) return undefined;
  const initrd = [`initrd.img-${v}`, `initramfs-${v}.img`, `initrd-${v}`].find((f) =>
    facts.bootFiles.includes(f),
  );
  return { kernel: `/boot/${kernel}`, initrd: initrd ? `/boot/${initrd}` : undefined };
}
