/**
 * The Xen host's NICs: virtio-net devices on taps that are ports of the caller's bridges, all in
 * one namespace (QEMU runs there and opens each tap by name, which only finds taps of its own
 * namespace). eth0 may carry a dom0 bridge for guests' vifs (`xenbr0`) and an address; more NICs
 * (eth1, ...) e.g. put the AoE initiator on a separate SAN bridge, as cluster-lab.ts's `mgmt` and
 * `san` bridges are.
 *
 * The taps are made persistent, enslaved and up before QEMU opens them by name (as the Linux
 * guest lab does), so each port forwards before dom0 sees carrier.
 */
import { EtherplaneError } from "../../../src/foundation/errors.js";
import type { Namespace } from "../netns.js";

export interface XenHostNicOptions {
  /** A bridge in the network's `bridgeNs`: this NIC's tap becomes one of its ports. */
  bridge: string;
  /** By default a locally administered one unique to this process, boot and NIC. */
  mac?: string;
  /** MTU of the tap and the NIC (576..9000, 1500 by default); `bridge` must have it. */
  mtu?: number;
  /** IPv4 address/prefix for the NIC, e.g. `10.78.0.50/24`. */
  address?: string;
}

export interface XenHostNetworkOptions extends XenHostNicOptions {
  /** The namespace holding the bridges; QEMU runs in it (`ip netns exec`). */
  bridgeNs: Namespace;
  /** eth0's address: on `guestBridge` when there is one, else on eth0. */
  address?: string;
  /** A dom0 bridge for guests' vifs, e.g. `xenbr0`, with eth0 as a port (as on a Xen host). */
  guestBridge?: string;
  /** eth1, eth2, ...: more NICs on other bridges of `bridgeNs`. */
  moreNics?: readonly XenHostNicOptions[];
}

export interface PlannedNic {
  /** dom0's name for it: eth0, eth1, ... (PCI order, which is QEMU's argument order). */
  ifname: string;
  tap: string;
  mac: string;
  mtu: number;
  bridge: string;
  address?: string;
}

export interface NetworkPlan {
  bridgeNs: Namespace;
  nics: PlannedNic[];
  guestBridge?: string;
  /** QEMU's -netdev/-device arguments, eth0 first. */
  qemuArgs: string[];
  /** dom0's `/ep/nics`: `ifname mac mtu address|-` per extra NIC (eth0 is set up apart). */
  extraNicsFile: string;
}

const mtuMin = 576;
const mtuMax = 9000;
const moreNicsMax = 3;
export const ifnamePattern = /^[a-zA-Z][\w.-]{0,14}$/;

function invalid(message: string): never {
  throw new EtherplaneError("INVALID_ARGUMENT", message);
}

export function checkAddress(address: string): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(address);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(match?.[5]);
  if (!match || octets.some((o) => o > 255) || prefix < 1 || prefix > 32) {
    invalid(`address ${address} is not IPv4 address/prefix, e.g. 10.77.0.50/24`);
  }
  return address;
}

let bootCounter = 0;

function defaultMac(boot: number, nic: number): string {
  const bytes = [0x02, 0xe8 + nic, (process.pid >> 8) & 0xff, process.pid & 0xff, boot >> 8, boot];
  return bytes.map((byte) => (byte & 0xff).toString(16).padStart(2, "0")).join(":");
}

/** Checks the options and names the taps and MACs of one boot. */
export function planNetwork(n: XenHostNetworkOptions): NetworkPlan {
  bootCounter += 1;
  const boot = bootCounter;
  const more = n.moreNics ?? [];
  if (more.length > moreNicsMax) invalid(`${more.length} more NICs, over ${moreNicsMax}`);
  const nics = [n, ...more].map((nic, i): PlannedNic => {
    if (!ifnamePattern.test(nic.bridge)) invalid(`bridge ${nic.bridge} is not an interface name`);
    const mtu = nic.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < mtuMin || mtu > mtuMax) {
      invalid(`mtu ${mtu} is outside ${mtuMin}..${mtuMax}`);
    }
    const mac = (nic.mac ?? defaultMac(boot, i)).toLowerCase();
    // Unicast (bit 0 of the first byte clear): dom0's frames carry it as their source.
    if (!/^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/.test(mac)) {
      invalid(`mac ${mac} is not a unicast MAC address`);
    }
    if (nic.address !== undefined) checkAddress(nic.address);
    const tap = `ep${process.pid % 100_000}x${boot % 10_000}${i > 0 ? `n${i}` : ""}`;
    return { ifname: `eth${i}`, tap, mac, mtu, bridge: nic.bridge, address: nic.address };
  });
  if (new Set(nics.map((nic) => nic.mac)).size !== nics.length) invalid("two NICs share a MAC");
  if (n.guestBridge !== undefined) {
    if (!ifnamePattern.test(n.guestBridge)) {
      invalid(`guestBridge ${n.guestBridge} is not an interface name`);
    }
    if (/^eth\d+$/.test(n.guestBridge)) invalid(`guestBridge ${n.guestBridge} names a NIC`);
  }
  const qemuArgs = nics.flatMap((nic, i) => [
    ...["-netdev", `tap,id=n${i},ifname=${nic.tap},script=no,downscript=no`],
    // romfile= skips the iPXE option ROM, which a direct kernel boot never uses.
    ...["-device", `virtio-net-pci,netdev=n${i},mac=${nic.mac},romfile=`],
  ]);
  const extraNicsFile = nics
    .slice(1)
    .map((nic) => `${nic.ifname} ${nic.mac} ${nic.mtu} ${nic.address ?? "-"}\n`)
    .join("");
  return { bridgeNs: n.bridgeNs, nics, guestBridge: n.guestBridge, qemuArgs, extraNicsFile };
}

export async function addTap(ns: Namespace, nic: PlannedNic): Promise<void> {
  await ns.exec("ip", ["tuntap", "add", "dev", nic.tap, "mode", "tap"]);
  await ns.exec("ip", ["link", "set", nic.tap, "mtu", String(nic.mtu)]);
  await ns.exec("ip", ["link", "set", nic.tap, "master", nic.bridge]);
  await ns.exec("ip", ["link", "set", nic.tap, "up"]);
}
