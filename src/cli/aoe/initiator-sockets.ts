/** Opens the initiator's raw sockets on the named interfaces (or every Ethernet interface that is up). */
import { EtherplaneError } from "../../foundation/errors.js";
import { listEthernetInterfaces } from "../../net/interfaces.js";
import { openAfPacketSocket } from "../../net/raw-socket/af-packet.js";
import { AOE_ETHERTYPE } from "../../aoe/codec/header.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import { AoeInitiator } from "../../aoe/initiator/aoe-initiator.js";

export function openInitiator(ifnames: string[]): AoeInitiator {
  const names =
    ifnames.length > 0
      ? ifnames
      : listEthernetInterfaces()
          .filter((i) => i.up)
          .map((i) => i.ifname);
  if (names.length === 0) {
    throw new EtherplaneError("NOT_FOUND", "no Ethernet interface is up; name one with --iface");
  }
  const sockets: RawSocket[] = [];
  try {
    for (const ifname of names)
      sockets.push(
        // The engine copies what it keeps of a reply (engine.ts): no fresh buffer per batch.
        openAfPacketSocket({ ifname, ethertype: AOE_ETHERTYPE, reuseReceiveBuffer: true }),
      );
  } catch (error) {
    for (const socket of sockets) socket.close();
    throw error;
  }
  return new AoeInitiator(sockets);
}
