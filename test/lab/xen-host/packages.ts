/**
 * The Debian packages a Xen host lab is built from, fetched with `apt-get download` into
 * `<cache>/xen-host/debs/<package>.deb` (flock-locked, renamed into place when complete: see
 * linux-guest/cache.ts). Nothing is installed on the host; `dpkg -x` unpacks them into the dom0
 * root folder.
 *
 * The Xen packages bring their `lib*` dependencies (the `libxen*` family and what those need,
 * e.g. libext2fs2 for libxenmisc), found with `apt-cache depends`. Their other dependencies
 * (python3, udev, ucf, lsb-base) serve init scripts and pygrub, which a dom0 run from an
 * initramfs does without. The support packages are `supportPackages` below.
 */
import { join } from "node:path";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { runCommand } from "../linux-guest/exec.js";
import { downloadPackage } from "../linux-guest/kernel.js";

export const xenPackages = [
  "xen-hypervisor-4.17-amd64",
  "xen-utils-4.17",
  "xen-utils-common",
  "xenstore-utils",
] as const;

/**
 * Unpacked whole; their files take precedence over busybox applets of the same name. bash runs
 * the hotplug scripts; libgcc-s1 is loaded by `xl` at run time (pthread_cancel), so no
 * dependency names it. libstdc++6 is for the host's Node.js, shared into dom0 (host-config.ts):
 * it needs libstdc++, libgcc_s and libc6's libraries (`ldd $(which node)`), and takes them from
 * the same Debian release as the host's, rather than the host's own files through a share,
 * which would mix the host's libc with dom0's ld.so.
 */
export const supportPackages = [
  "bash",
  "libc6",
  "libgcc-s1",
  "libstdc++6",
  // iproute2's ip: the agent reads `ip -j link` (src/net/host-network), busybox ip has no -j.
  "libbpf1",
  "libelf1",
  "libmnl0",
  "libbsd0",
  "libmd0",
  "libcap2",
  "libyajl2",
  "libuuid1",
  "zlib1g",
  "liblzma5",
  "libzstd1",
  "libtinfo6",
] as const;

/**
 * Packages of which only a few files are kept: util-linux's and iproute2's other tools need
 * libraries the dom0 lacks, and would shadow working busybox applets.
 */
export const partialPackages: Readonly<Record<string, readonly string[]>> = {
  "util-linux": ["usr/bin/flock"],
  iproute2: ["bin/ip", "sbin/bridge"],
  // script(1): the xen driver runs `xl console` under it, as xenconsole forwards input from a tty
  // only (src/hypervisor/xen/console-hub.ts).
  bsdutils: ["usr/bin/script"],
};

const packagesMax = 64;
const aptTimeoutMs = 60_000;

/** `apt-cache depends` output as a map from package to its `Depends:` names (virtuals left out). */
export function parseAptDepends(text: string): Map<string, string[]> {
  const depends = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    const head = /^(\S+)$/.exec(line);
    if (head?.[1]) {
      current = [];
      depends.set(head[1], current);
      continue;
    }
    const dep = /^\s+\|?Depends:\s+([^<\s]\S*)/.exec(line);
    if (dep?.[1] && current && !current.includes(dep[1])) current.push(dep[1]);
  }
  return depends;
}

/** The Xen packages and the closure of their `lib*` dependencies, sorted. */
export async function resolveXenPackages(): Promise<string[]> {
  const found = new Set<string>(xenPackages);
  let frontier: string[] = [...xenPackages];
  while (frontier.length > 0) {
    const { stdout } = await runCommand(
      "apt-cache",
      ["depends", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks"]
        .concat(["--no-replaces", "--no-enhances"])
        .concat(frontier),
      { timeoutMs: aptTimeoutMs },
    );
    const next: string[] = [];
    for (const deps of parseAptDepends(stdout).values()) {
      for (const dep of deps) {
        if (!dep.startsWith("lib") || found.has(dep)) continue;
        found.add(dep);
        next.push(dep);
      }
    }
    if (found.size > packagesMax) {
      throw new EtherplaneError(
        "UNAVAILABLE",
        `the Xen packages pull in over ${packagesMax} libraries: ${[...found].join(" ")}`,
      );
    }
    frontier = next;
  }
  return [...found].sort();
}

/** Every package the dom0 needs, unpacked whole, plus the partial ones. */
export async function resolveHostPackages(): Promise<{ whole: string[]; partial: string[] }> {
  const whole = new Set([...(await resolveXenPackages()), ...supportPackages]);
  return { whole: [...whole].sort(), partial: Object.keys(partialPackages).sort() };
}

/** Downloads (or finds cached) `<cache>/xen-host/debs/<package>.deb` for each package. */
export async function fetchDebs(
  packages: readonly string[],
  cacheDir: string,
): Promise<Map<string, string>> {
  const dir = join(cacheDir, "xen-host", "debs");
  const debs = new Map<string, string>();
  // One at a time: apt-get download is quick, and parallel runs would only contend for apt.
  for (const name of packages) debs.set(name, await downloadPackage(name, dir));
  return debs;
}
