/**
 * The source's 802.1q VLAN, kept on request (`--keep-vlan`): when the interface of the source's
 * default route is a VLAN interface (`eth0.100`, `vlan100`), the domain's vif goes on a network
 * of the cluster that carries that VLAN (`etherplane network create ... --vlan 100`), where the
 * guest sees the VLAN untagged. The VLANs come from `/proc/net/vlan/config` (the 8021q module's
 * table, present whenever a VLAN interface exists: net/8021q/vlanproc.c). Pure.
 */
import { EtherplaneError } from "../foundation/errors.js";

export interface SourceVlan {
  /** The VLAN interface, e.g. eth0.100. */
  interface: string;
  id: number;
  /** The interface it tags on, e.g. eth0. */
  parent: string;
}

const VLAN_ID_MAX = 4094;
const VLANS_MAX = 4094;
const NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/**
 * `/proc/net/vlan/config`: two header lines, then `eth0.100       | 100  | eth0` per VLAN
 * (vlan_seq_show in net/8021q/vlanproc.c). Lines that do not parse are skipped.
 */
export function parseVlanConfig(text: string): SourceVlan[] {
  const vlans: SourceVlan[] = [];
  for (const line of text.split("\n")) {
    if (vlans.length >= VLANS_MAX) break;
    const fields = line.split("|").map((f) => f.trim());
    if (fields.length !== 3) continue;
    const [name, idText, parent] = fields as [string, string, string];
    if (!/^[0-9]{1,4}$/.test(idText) || !NAME.test(name) || !NAME.test(parent)) continue;
    const id = Number(idText);
    if (id < 1 || id > VLAN_ID_MAX) continue;
    vlans.push({ interface: name, id, parent });
  }
  return vlans;
}

/** The VLAN of the source's default route, if that interface is a VLAN interface. */
export function primaryVlan(
  vlans: readonly SourceVlan[],
  primaryInterface: string | undefined,
): SourceVlan | undefined {
  if (primaryInterface === undefined) return undefined;
  return vlans.find((v) => v.interface === primaryInterface);
}

/** A cluster network as the choice needs it (GET /api/v1/networks). */
export interface VlanNetwork {
  name: string;
  host: string;
  vlanId: number | null;
}

/**
 * The network for `--keep-vlan`: the one named by `--network` when its VLAN is the source's,
 * else the only network name that carries the source's VLAN. Refused, with what to do instead,
 * when the source has no VLAN, when no network carries it, or when several do and none is named.
 */
export function chooseVlanNetwork(
  vlan: SourceVlan | undefined,
  networks: readonly VlanNetwork[],
  requested: string | undefined,
  primaryInterface: string | undefined,
): string {
  if (!vlan)
    throw new EtherplaneError(
      "INVALID_CONFIG",
      `--keep-vlan: the source's default route is on ${primaryInterface ?? "no interface"}, which is no 802.1q VLAN interface ` +
        "(none in its /proc/net/vlan/config): leave out --keep-vlan and choose the network with --network",
    );
  const carrying = networks.filter((n) => n.vlanId === vlan.id);
  const names = [...new Set(carrying.map((n) => n.name))].sort();
  const create = `etherplane network create NAME --host HOST --uplink IF --vlan ${vlan.id}`;
  if (requested !== undefined) {
    const named = networks.filter((n) => n.name === requested);
    if (named.length === 0)
      throw new EtherplaneError(
        "NOT_FOUND",
        `--network ${requested}: no such network; the source's ${vlan.interface} is VLAN ${vlan.id}` +
          (names.length > 0 ? `, carried by ${names.join(", ")}` : `: create one with ${create}`),
      );
    const wrong = named.filter((n) => n.vlanId !== vlan.id);
    if (wrong.length > 0)
      throw new EtherplaneError(
        "INVALID_CONFIG",
        `--keep-vlan: network ${requested} is ${wrong[0]?.vlanId === null ? "untagged" : `VLAN ${wrong[0]?.vlanId}`} on ${wrong.map((n) => n.host).join(", ")}, ` +
          `but the source's ${vlan.interface} is VLAN ${vlan.id}: ` +
          (names.length > 0 ? `use --network ${names[0]}` : `create a network with ${create}`) +
          ", or leave out --keep-vlan",
      );
    return requested;
  }
  const only = names[0];
  if (only === undefined)
    throw new EtherplaneError(
      "NOT_FOUND",
      `--keep-vlan: no network carries VLAN ${vlan.id} (the source's ${vlan.interface}): create one with ${create}, then run p2v again`,
    );
  if (names.length > 1)
    throw new EtherplaneError(
      "CONFLICT",
      `--keep-vlan: networks ${names.join(", ")} all carry VLAN ${vlan.id}: choose one with --network`,
    );
  return only;
}
