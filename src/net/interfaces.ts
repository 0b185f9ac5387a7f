/** The host's Ethernet interfaces, read from sysfs (for discovery's default interface list). */
import * as fs from "node:fs";

export interface InterfaceInfo {
  ifname: string;
  mac: string;
  mtu: number;
  up: boolean;
}

const ARPHRD_ETHER = 1;

export function listEthernetInterfaces(sysClassNet = "/sys/class/net"): InterfaceInfo[] {
  const result: InterfaceInfo[] = [];
  for (const ifname of fs.readdirSync(sysClassNet).sort()) {
    const read = (file: string) =>
      fs.readFileSync(`${sysClassNet}/${ifname}/${file}`, "utf8").trim();
    try {
      if (Number(read("type")) !== ARPHRD_ETHER || ifname === "lo") continue;
      const flags = Number.parseInt(read("flags"), 16);
      result.push({
        ifname,
        mac: read("address"),
        mtu: Number(read("mtu")),
        up: (flags & 0x1) !== 0,
      });
    } catch {
      continue; // an interface that vanished while we looked
    }
  }
  return result;
}
