/**
 * What to change on a host so that it carries a network: the minimal list of `ip` commands from
 * the observed interfaces. Pure; applying is apply.ts's job.
 *
 * Rules: create only the bridge and the VLAN interface; of other interfaces (the uplink) change
 * only what the network needs (up, an MTU too small); never delete, rename or move an interface
 * between masters. Anything in the way is refused with CONFLICT saying what to do. A host that
 * already carries the network plans nothing.
 *
 * Every command names its interfaces after a keyword (`dev`, `name`, `link`), so an interface
 * called e.g. `up` cannot be read as an option; iproute2 and busybox `ip` both accept these forms.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { ObservedLink } from "./ip-link-json.js";
import { bridgePortName, validateHostNetworkSpec, type HostNetworkSpec } from "./spec.js";

/** One `ip` invocation: the argv after `ip` (and after `-n NS` when in a namespace). */
export type IpCommand = readonly string[];

function conflict(spec: HostNetworkSpec, message: string, params: Record<string, unknown> = {}) {
  return new EtherplaneError("CONFLICT", `network ${JSON.stringify(spec.name)}: ${message}`, {
    params: { network: spec.name, ...params },
  });
}

function describeKind(link: ObservedLink): string {
  if (link.kind !== "other") return `a ${link.kind}`;
  return link.driver ? `a ${link.driver} interface` : "a network device";
}

/** True when `link` is the VLAN interface the spec wants: its id on its uplink, 802.1Q. */
function isWantedVlan(link: ObservedLink, uplink: string, vlanId: number): boolean {
  const vlan = link.vlan;
  return (
    link.kind === "vlan" &&
    vlan !== undefined &&
    vlan.id === vlanId &&
    vlan.parent === uplink &&
    (vlan.protocol === undefined || vlan.protocol === "802.1Q")
  );
}

function describeVlan(link: ObservedLink): string {
  const vlan = link.vlan;
  if (link.kind !== "vlan" || !vlan) return describeKind(link);
  const on = vlan.parent === undefined ? "a parent in another namespace" : vlan.parent;
  return `VLAN ${vlan.id}${vlan.protocol && vlan.protocol !== "802.1Q" ? ` (${vlan.protocol})` : ""} on ${on}`;
}

/** The commands that make `observed` carry `spec`; [] when it already does. */
export function planHostNetwork(
  spec: HostNetworkSpec,
  observed: readonly ObservedLink[],
): IpCommand[] {
  validateHostNetworkSpec(spec);
  const byName = new Map(observed.map((link) => [link.name, link]));
  const { bridge, uplink } = spec;
  const vlanId = spec.vlanId ?? undefined;
  const mtu = spec.mtu ?? undefined;
  const port = bridgePortName(spec);

  // Refusals first: a plan is either whole or not made.
  const existingBridge = byName.get(bridge);
  if (existingBridge && existingBridge.kind !== "bridge") {
    throw conflict(
      spec,
      `${bridge} exists and is ${describeKind(existingBridge)}, not a bridge: choose another bridge name, or remove ${bridge} yourself (etherplane does not delete interfaces it did not create)`,
      { interface: bridge },
    );
  }
  const uplinkLink = uplink ? byName.get(uplink) : undefined;
  if (uplink && !uplinkLink) {
    throw new EtherplaneError(
      "NOT_FOUND",
      `network ${JSON.stringify(spec.name)}: uplink ${uplink} does not exist on this host: name an existing interface (see \`ip link show\`), or leave uplink out for a host-only network`,
      { params: { network: spec.name, interface: uplink } },
    );
  }
  if (uplinkLink && vlanId === undefined && uplinkLink.kind === "bridge") {
    throw conflict(
      spec,
      `uplink ${uplink} is a bridge, and a bridge cannot be a port of another bridge: give a VLAN id, or use ${uplink} itself as this network's bridge`,
      { interface: uplink },
    );
  }
  const portLink = port ? byName.get(port) : undefined;
  if (uplink && vlanId !== undefined && port) {
    if (portLink && !isWantedVlan(portLink, uplink, vlanId)) {
      throw conflict(
        spec,
        `${port} exists and is ${describeVlan(portLink)}, not VLAN ${vlanId} on ${uplink}: remove or rename ${port} yourself, or use another uplink or VLAN id`,
        { interface: port },
      );
    }
    const twin = observed.find((link) => link.name !== port && isWantedVlan(link, uplink, vlanId));
    if (!portLink && twin) {
      throw conflict(
        spec,
        `VLAN ${vlanId} on ${uplink} already exists as ${twin.name} (Linux allows one per uplink): rename it to ${port} (\`ip link set dev ${twin.name} name ${port}\` while down) or delete it`,
        { interface: twin.name },
      );
    }
  }
  if (port && portLink?.master !== undefined && portLink.master !== bridge) {
    throw conflict(
      spec,
      `${port} is already a port of ${portLink.master}: release it (\`ip link set dev ${port} nomaster\`) or choose another ${vlanId === undefined ? "uplink" : "VLAN id"}`,
      { interface: port, master: portLink.master },
    );
  }

  const commands: IpCommand[] = [];
  // The VLAN interface first: on a kernel without 8021q this fails before anything changed.
  const vlanNew = Boolean(uplink && vlanId !== undefined && port && !portLink);
  if (vlanNew && uplink && port) {
    commands.push(["link", "add", "link", uplink, "name", port, "type", "vlan", "id", `${vlanId}`]);
  }
  if (uplinkLink && uplink) {
    // Raised, never lowered: other networks may need the bigger frames on the same uplink.
    if (mtu !== undefined && uplinkLink.mtu < mtu) {
      commands.push(["link", "set", "dev", uplink, "mtu", String(mtu)]);
    }
    if (!uplinkLink.up) commands.push(["link", "set", "dev", uplink, "up"]);
  }
  if (vlanId !== undefined && port) {
    // A new VLAN interface takes its parent's MTU (net/8021q/vlan_netlink.c) and starts down.
    if (mtu !== undefined && (vlanNew || portLink?.mtu !== mtu)) {
      commands.push(["link", "set", "dev", port, "mtu", String(mtu)]);
    }
    if (vlanNew || !portLink?.up) commands.push(["link", "set", "dev", port, "up"]);
  }
  if (!existingBridge) commands.push(["link", "add", "name", bridge, "type", "bridge"]);
  if (port && portLink?.master !== bridge) {
    commands.push(["link", "set", "dev", port, "master", bridge]);
  }
  // After enslaving: a bridge without a user-set MTU follows its ports' minimum
  // (net/bridge/br_if.c, br_mtu_auto_adjust); one set by the user stays.
  if (mtu !== undefined && (!existingBridge || existingBridge.mtu !== mtu)) {
    commands.push(["link", "set", "dev", bridge, "mtu", String(mtu)]);
  }
  if (!existingBridge?.up) commands.push(["link", "set", "dev", bridge, "up"]);
  return commands;
}

/**
 * The commands that take the network off the host: delete its bridge, once no port other than
 * the network's own (uplink or VLAN interface) remains, then its VLAN interface. The uplink is
 * left as it is (up, with its MTU). [] when neither exists. An interface of the bridge's or VLAN
 * interface's name that is not what the spec would create is not the network's: a bridge of the
 * wrong kind is refused, a VLAN interface name taken by something else is left alone.
 */
export function planHostNetworkRemoval(
  spec: HostNetworkSpec,
  observed: readonly ObservedLink[],
): IpCommand[] {
  validateHostNetworkSpec(spec);
  const byName = new Map(observed.map((link) => [link.name, link]));
  const { bridge, uplink } = spec;
  const vlanId = spec.vlanId ?? undefined;
  const port = bridgePortName(spec);
  const commands: IpCommand[] = [];

  const bridgeLink = byName.get(bridge);
  if (bridgeLink && bridgeLink.kind !== "bridge") {
    throw conflict(
      spec,
      `${bridge} is ${describeKind(bridgeLink)}, not this network's bridge: nothing of it is deleted; fix the network's bridge name`,
      { interface: bridge },
    );
  }
  if (bridgeLink) {
    const others = observed
      .filter((link) => link.master === bridge && link.name !== port)
      .map((link) => link.name)
      .sort();
    if (others.length > 0) {
      throw conflict(
        spec,
        `bridge ${bridge} still has ports ${others.join(", ")}: stop or move the domains using this network (or detach the ports with \`ip link set dev PORT nomaster\`) first`,
        { interface: bridge, ports: others },
      );
    }
  }
  const vlanLink = port && vlanId !== undefined ? byName.get(port) : undefined;
  const ownVlan =
    vlanLink && uplink && vlanId !== undefined && isWantedVlan(vlanLink, uplink, vlanId);
  if (ownVlan && vlanLink.master !== undefined && vlanLink.master !== bridge) {
    throw conflict(
      spec,
      `${port} is a port of ${vlanLink.master}, another network's bridge: it is not deleted; remove that network first`,
      { interface: port, master: vlanLink.master },
    );
  }
  if (bridgeLink) commands.push(["link", "del", "dev", bridge]);
  if (ownVlan && port) commands.push(["link", "del", "dev", port]);
  return commands;
}
