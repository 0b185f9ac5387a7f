/**
 * A host network: a Linux bridge, optionally with an uplink interface as its port, optionally
 * through an 802.1Q VLAN interface on that uplink (`eth1.10` for VLAN 10 on `eth1`, the name
 * vconfig's default naming and the Debian ifupdown `vlan` package use).
 *
 *   no uplink:          [ bridge ]                         host-only
 *   uplink:             [ bridge ]--[ eth1 ]               untagged
 *   uplink + vlanId:    [ bridge ]--[ eth1.10 ]~~[ eth1 ]  tagged 10 on eth1
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { IFNAME_BYTES_MAX } from "../ifname.js";

export interface HostNetworkSpec {
  /** The network's name in the cluster (for messages). */
  name: string;
  /** The bridge domains' vifs join, e.g. `xenbr1`. */
  bridge: string;
  /** The host interface carrying the network's frames off the host; none for host-only. */
  uplink?: string | null;
  /** 802.1Q VLAN id on the uplink; the VLAN interface `<uplink>.<vlanId>` joins the bridge. */
  vlanId?: number | null;
  /**
   * MTU of the bridge and the VLAN interface. The uplink is raised to it when lower, never
   * lowered: other networks may share the uplink with bigger frames.
   */
  mtu?: number | null;
}

export const HOST_NETWORK_LIMITS = {
  ifnameBytesMax: IFNAME_BYTES_MAX,
  /** 0 and 4095 are reserved by IEEE 802.1Q (9.6, VID values). */
  vlanIdMin: 1,
  vlanIdMax: 4094,
  /** IPv4's minimum (RFC 791) is the kernel's ETH_MIN_MTU; 65535 its bridge and veth maximum. */
  mtuMin: 68,
  mtuMax: 65535,
  networkNameMax: 64,
} as const;

const L = HOST_NETWORK_LIMITS;

/**
 * Why `name` cannot be an interface name, or undefined when it can. The kernel's rules
 * (net/core/dev.c, dev_valid_name): 1..15 bytes, not `.` or `..`, no `/`, `:` or whitespace.
 * Stricter here: printable ASCII only, so names stay safe in argv, logs and shell scripts.
 */
export function interfaceNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return "is not a string";
  if (name.length === 0) return "is empty";
  if (name.length > L.ifnameBytesMax) {
    return `is ${name.length} characters long, over Linux's ${L.ifnameBytesMax}`;
  }
  if (name === "." || name === "..") return "is . or .., which Linux refuses";
  if (/\s/.test(name)) return "contains whitespace";
  if (name.includes("/") || name.includes(":")) return 'contains "/" or ":", which Linux refuses';
  if (!/^[\x21-\x7e]+$/.test(name)) return "contains characters outside printable ASCII";
  return undefined;
}

/** The VLAN interface a spec with `vlanId` creates on its uplink. */
export function vlanInterfaceName(uplink: string, vlanId: number): string {
  return `${uplink}.${vlanId}`;
}

/** The interface the spec enslaves to its bridge: the VLAN interface, the uplink, or none. */
export function bridgePortName(spec: HostNetworkSpec): string | undefined {
  if (!spec.uplink) return undefined;
  return spec.vlanId == null ? spec.uplink : vlanInterfaceName(spec.uplink, spec.vlanId);
}

function refuse(spec: { name?: unknown }, message: string, field: string): never {
  const label = typeof spec.name === "string" ? `network ${JSON.stringify(spec.name)}` : "network";
  throw new EtherplaneError("INVALID_ARGUMENT", `${label}: ${message}`, { params: { field } });
}

const nameFix = 'use 1-15 printable characters without whitespace, "/" or ":"';

/**
 * Throws INVALID_ARGUMENT naming the field and the fix. Checks types too: specs arrive as JSON.
 */
export function validateHostNetworkSpec(spec: HostNetworkSpec): void {
  const name: unknown = spec.name;
  if (
    typeof name !== "string" ||
    name.length === 0 ||
    name.length > L.networkNameMax ||
    !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)
  ) {
    refuse(
      {},
      `name ${JSON.stringify(name)} is not a network name: use 1-${L.networkNameMax} letters, digits, "_", "." or "-", starting with a letter or digit`,
      "name",
    );
  }
  const bridgeProblem = interfaceNameProblem(spec.bridge);
  if (bridgeProblem) {
    refuse(
      spec,
      `bridge ${JSON.stringify(spec.bridge)} ${bridgeProblem}: ${nameFix}, e.g. xenbr1`,
      "bridge",
    );
  }
  if (spec.uplink != null) {
    const uplinkProblem = interfaceNameProblem(spec.uplink);
    if (uplinkProblem) {
      refuse(
        spec,
        `uplink ${JSON.stringify(spec.uplink)} ${uplinkProblem}: name an existing host interface, e.g. eth1`,
        "uplink",
      );
    }
    if (spec.uplink === spec.bridge) {
      refuse(
        spec,
        `uplink and bridge are both ${spec.bridge}: the uplink is the interface the bridge enslaves, so name them differently`,
        "uplink",
      );
    }
  }
  if (spec.vlanId != null) {
    const vlanId: unknown = spec.vlanId;
    if (
      typeof vlanId !== "number" ||
      !Number.isInteger(vlanId) ||
      vlanId < L.vlanIdMin ||
      vlanId > L.vlanIdMax
    ) {
      refuse(
        spec,
        `vlanId ${String(vlanId)} is outside ${L.vlanIdMin}..${L.vlanIdMax}: give the 802.1Q VLAN id the switch port carries`,
        "vlanId",
      );
    }
    if (spec.uplink == null) {
      refuse(
        spec,
        `vlanId ${vlanId} needs an uplink: name the interface that carries VLAN ${vlanId} (e.g. eth1), or drop vlanId for a host-only network`,
        "vlanId",
      );
    }
    const vlanIf = vlanInterfaceName(spec.uplink, vlanId);
    if (vlanIf.length > L.ifnameBytesMax) {
      refuse(
        spec,
        `the VLAN interface name ${vlanIf} (uplink.vlanId) is over Linux's ${L.ifnameBytesMax} characters: use an uplink with a shorter name`,
        "uplink",
      );
    }
    if (vlanIf === spec.bridge) {
      refuse(
        spec,
        `bridge ${spec.bridge} is also the name of the VLAN interface: name the bridge differently, e.g. xenbr${vlanId}`,
        "bridge",
      );
    }
  }
  if (spec.mtu != null) {
    const mtu: unknown = spec.mtu;
    if (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < L.mtuMin || mtu > L.mtuMax) {
      refuse(
        spec,
        `mtu ${String(mtu)} is outside ${L.mtuMin}..${L.mtuMax}: use 1500, or 9000 for jumbo frames`,
        "mtu",
      );
    }
  }
}
