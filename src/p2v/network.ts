/**
 * The domain's network card is new: another MAC (udev's persistent rules would name it eth1) and,
 * under predictable names, another name than the server's `enp3s0`. The kernel line carries
 * `net.ifnames=0` so it is `eth0`; the copy's persistent-net rules lose their MAC bindings and
 * ifupdown's /etc/network/interfaces says `eth0` where it said the server's interface. Pure.
 */
import type { CopyEdit } from "./edits.js";

export const DOMAIN_NIC = "eth0";
export const PERSISTENT_NET_RULES = "/etc/udev/rules.d/70-persistent-net.rules";

export interface NetworkFiles {
  /** The interface of the source's default route (`ip route`), if any. */
  primary: string | undefined;
  interfaces: string | undefined;
  persistentNetRules: string | undefined;
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
  const primary = files.primary;
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
    const text = files.interfaces.replace(pattern, `$1${DOMAIN_NIC}`);
    if (text !== files.interfaces) {
      edits.push({
        kind: "write",
        path: "/etc/network/interfaces",
        text,
        change: `network: ${primary} renamed ${DOMAIN_NIC} in /etc/network/interfaces (net.ifnames=0)`,
      });
    }
  }
  return edits;
}
