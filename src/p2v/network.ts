/**
 * The domain's network card is new: another MAC (udev's persistent rules would name it eth1) and,
 * under predictable names, another name than the server's `enp3s0`. The kernel line carries
 * `net.ifnames=0` so it is `eth0`; the copy's persistent-net rules lose their MAC bindings and
 * ifupdown's /etc/network/interfaces says `eth0` where it said the server's interface. When the
 * default route is on a VLAN interface (`enp3s0.100`), the card is its parent: `enp3s0` becomes
 * `eth0` and the VLAN `eth0.100`, tagged as before (the vif on a trunk); with `--keep-vlan` the vif
 * is on the VLAN's own network, untagged, so the VLAN interface itself becomes `eth0` and its
 * `vlan-raw-device` line is commented out. Pure.
 */
import type { CopyEdit } from "./edits.js";

export const DOMAIN_NIC = "eth0";
export const PERSISTENT_NET_RULES = "/etc/udev/rules.d/70-persistent-net.rules";

export interface NetworkFiles {
  /** The interface of the source's default route (`ip route`), if any. */
  primary: string | undefined;
  interfaces: string | undefined;
  persistentNetRules: string | undefined;
  /** The default route's VLAN interface, and whether the vif carries that VLAN untagged. */
  vlan?: { interface: string; parent: string; untagged: boolean };
}

const NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

export function networkEdits(files: NetworkFiles): CopyEdit[] {
  const edits: CopyEdit[] = [];
  if (files.persistentNetRules !== undefined) {
    const lines = files.persistentNetRules.split("\n");
    const bound = lines.filter((l) => !l.trim().startsWith("#") && /ATTR\{address\}/.test(l));
    if (bound.length > 0) {
      edits.push({
        kind: "write",
        path: PERSISTENT_NET_RULES,
        text: lines
          .map((l) =>
            bound.includes(l) ? `# etherplane p2v: the physical server's card\n# ${l}` : l,
          )
          .join("\n"),
        change: `udev: ${bound.length} persistent-net rule(s) for the server's MACs commented out`,
      });
    }
  }
  const vlan = files.vlan;
  const primary = vlan ? (vlan.untagged ? vlan.interface : vlan.parent) : files.primary;
  if (
    files.interfaces !== undefined &&
    primary !== undefined &&
    primary !== DOMAIN_NIC &&
    NAME.test(primary)
  ) {
    const escaped = primary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const pattern = new RegExp(
      `^(\\s*(?:auto|allow-hotplug|iface|allow-auto)\\b[^#\\n]*?\\s)${escaped}(?=\\s|$|\\.|:)`,
      "gm",
    );
    let text = files.interfaces.replace(pattern, `$1${DOMAIN_NIC}`);
    if (vlan?.untagged)
      text = text.replace(
        /^(\s*)(vlan[-_]raw[-_]device\b.*)$/gm,
        "$1# etherplane p2v: the vif carries the VLAN untagged\n$1# $2",
      );
    if (text !== files.interfaces) {
      edits.push({
        kind: "write",
        path: "/etc/network/interfaces",
        text,
        change:
          `network: ${primary} renamed ${DOMAIN_NIC} in /etc/network/interfaces (net.ifnames=0)` +
          (vlan?.untagged
            ? `; VLAN ${vlan.interface} untagged on the vif (vlan-raw-device commented out)`
            : ""),
      });
    }
  }
  return edits;
}
