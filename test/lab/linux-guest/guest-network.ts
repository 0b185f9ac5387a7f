/**
 * The topology a Linux AoE guest test uses:
 *
 *   target namespace            bridge namespace
 *   [ targetIf ] ---- veth ---- [ veth ]--[ bridge ]--[ tap ]== QEMU guest eth0
 *
 * The AoE target (vblade, or etherplane's own) listens on `targetIf`; `bootLinuxAoeGuest` adds a
 * tap per boot to `bridge`. Every hop gets the same MTU, as jumbo frames need.
 */
import type { Namespace, TestNet } from "../netns.js";
import { EtherplaneError } from "../../../src/foundation/errors.js";

export interface GuestNetwork {
  targetNs: Namespace;
  /** The interface the AoE target serves on, inside `targetNs`. */
  targetIf: string;
  bridgeNs: Namespace;
  bridge: string;
  mtu: number;
}

export const guestMtuMin = 576;
/** virtio-net, veth and bridges go higher; AoE gains nothing past 9000 (17 sectors). */
export const guestMtuMax = 9000;

export function validateMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < guestMtuMin || mtu > guestMtuMax) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `mtu ${mtu} is outside ${guestMtuMin}..${guestMtuMax}`,
    );
  }
}

export async function createGuestNetwork(
  net: TestNet,
  options: { mtu?: number } = {},
): Promise<GuestNetwork> {
  const mtu = options.mtu ?? 1500;
  validateMtu(mtu);
  const targetNs = await net.namespace("target");
  const bridgeNs = await net.namespace("bridge");
  const targetIf = "aoe0";
  const bridge = "br0";
  await net.link(targetNs, targetIf, bridgeNs, "vtarget", { mtu });
  await net.bridge(bridgeNs, bridge, ["vtarget"], mtu);
  return { targetNs, targetIf, bridgeNs, bridge, mtu };
}
