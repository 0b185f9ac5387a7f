/**
 * Reads `ip -j -d link show` (iproute2's JSON output, ip/ipaddress.c print_linkinfo) into the
 * few facts the planner needs. Fields used, as iproute2 6.1 prints them:
 *
 *   ifindex, ifname, mtu          numbers / the name
 *   flags                         ["BROADCAST","MULTICAST","UP","LOWER_UP"]: "UP" is IFF_UP
 *   master                        the bridge (or bond) this interface is a port of
 *   link                          the parent's name when it is in the same namespace (a VLAN's
 *                                 uplink, a veth peer); else link_index/link_netnsid
 *   linkinfo.info_kind            "bridge", "vlan", "veth", "tun", ...; absent for NICs
 *   linkinfo.info_data            vlan: {"protocol":"802.1Q","id":10,"flags":[...]}
 *
 * Captured real output lives in fixtures/ (see fixtures/README.md).
 */
import { EtherplaneError } from "../../foundation/errors.js";

export type LinkKind = "bridge" | "vlan" | "other";

export interface ObservedLink {
  name: string;
  index: number;
  kind: LinkKind;
  /** The kernel's link kind as iproute2 names it ("veth", "tun", ...); undefined for a NIC. */
  driver: string | undefined;
  /** The interface this one is a port of. */
  master: string | undefined;
  /** For kind "vlan": the id, the parent's name (undefined when in another namespace). */
  vlan: { id: number; parent: string | undefined; protocol: string | undefined } | undefined;
  /** Administratively up (IFF_UP); carrier is not needed to converge. */
  up: boolean;
  mtu: number;
}

export const IP_LINK_JSON_LIMITS = {
  textBytesMax: 32 * 1024 * 1024,
  linksMax: 100_000,
} as const;

function malformed(why: string): EtherplaneError {
  return new EtherplaneError("PROTOCOL", `ip -j -d link show printed unexpected JSON: ${why}`);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(entry: Json, key: string, where: string): string | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw malformed(`${where}: ${key} is not a string`);
  return value;
}

function parseLink(entry: unknown, position: number): ObservedLink {
  if (!isObject(entry)) throw malformed(`entry ${position} is not an object`);
  const name = entry["ifname"];
  if (typeof name !== "string" || name.length === 0) {
    throw malformed(`entry ${position} has no ifname`);
  }
  const where = `interface ${name}`;
  const index = entry["ifindex"];
  const mtu = entry["mtu"];
  const flags = entry["flags"];
  if (!Number.isInteger(index)) throw malformed(`${where}: ifindex is not an integer`);
  if (!Number.isInteger(mtu)) throw malformed(`${where}: mtu is not an integer`);
  if (!Array.isArray(flags) || flags.some((flag) => typeof flag !== "string")) {
    throw malformed(`${where}: flags is not a list of strings`);
  }
  const linkinfo = entry["linkinfo"];
  if (linkinfo !== undefined && !isObject(linkinfo)) {
    throw malformed(`${where}: linkinfo is not an object`);
  }
  const driver = linkinfo ? optionalString(linkinfo, "info_kind", where) : undefined;
  let vlan: ObservedLink["vlan"];
  if (driver === "vlan") {
    const data = linkinfo?.["info_data"];
    if (!isObject(data) || !Number.isInteger(data["id"])) {
      throw malformed(`${where}: a vlan without info_data.id (was -d given?)`);
    }
    vlan = {
      id: data["id"] as number,
      parent: optionalString(entry, "link", where),
      protocol: optionalString(data, "protocol", where),
    };
  }
  return {
    name,
    index: index as number,
    kind: driver === "bridge" ? "bridge" : driver === "vlan" ? "vlan" : "other",
    driver,
    master: optionalString(entry, "master", where),
    vlan,
    up: (flags as string[]).includes("UP"),
    mtu: mtu as number,
  };
}

/** Every interface in the output, in its order. PROTOCOL error on anything unexpected. */
export function parseIpLinkJson(text: string): ObservedLink[] {
  if (text.length > IP_LINK_JSON_LIMITS.textBytesMax) {
    throw malformed(`output is over ${IP_LINK_JSON_LIMITS.textBytesMax} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EtherplaneError(
      "PROTOCOL",
      `ip -j -d link show printed invalid JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (!Array.isArray(parsed)) throw malformed("the top level is not a list");
  if (parsed.length > IP_LINK_JSON_LIMITS.linksMax) {
    throw malformed(`over ${IP_LINK_JSON_LIMITS.linksMax} interfaces`);
  }
  const links = parsed.map(parseLink);
  const names = new Set<string>();
  for (const link of links) {
    if (names.has(link.name)) throw malformed(`interface ${link.name} is listed twice`);
    names.add(link.name);
  }
  return links;
}
