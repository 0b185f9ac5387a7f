/**
 * The userspace AoE initiator: sockets on one or more interfaces, discovery, and block devices.
 * Needs no kernel module, only raw sockets (root or CAP_NET_RAW).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import { AoeBlockDevice, type AoeBlockDeviceOptions } from "./aoe-block-device.js";
import { discover, type DiscoveredTarget, type DiscoverOptions } from "./discovery.js";
import { InitiatorEngine, type EngineOptions } from "./engine.js";

/**
 * Opening one shelf.slot stops listening this long after its first answer: its other paths (the
 * same target on another interface, or a second target) answer within it on a LAN, and a device
 * opens without waiting the whole listen window (a failover's disk bridge starts that much sooner).
 */
const OPEN_SETTLE_MS = 50;

export class AoeInitiator {
  readonly engine: InitiatorEngine;

  /** `options.clock` drives retransmission, deadlines and discovery (the real clock by default). */
  constructor(
    readonly sockets: readonly RawSocket[],
    options: EngineOptions = {},
  ) {
    if (sockets.length === 0)
      throw new EtherplaneError("INVALID_ARGUMENT", "the initiator needs at least one interface");
    this.engine = new InitiatorEngine(sockets, options);
  }

  discover(options: DiscoverOptions = {}): Promise<DiscoveredTarget[]> {
    return discover(this.engine, options);
  }

  /** Finds eS.L on the initiator's interfaces (every path that answers) and opens it. */
  async openDevice(
    shelf: number,
    slot: number,
    options: AoeBlockDeviceOptions & { listenMs?: number } = {},
  ): Promise<AoeBlockDevice> {
    const listenMs = options.listenMs ?? 300;
    const [target] = await this.discover({ shelf, slot, listenMs, settleMs: OPEN_SETTLE_MS });
    const where = this.sockets.map((s) => s.ifname).join(", ");
    if (!target) {
      throw new EtherplaneError(
        "NOT_FOUND",
        `no AoE target answered for e${shelf}.${slot} on ${where} within ${listenMs} ms; check that the target runs, exports e${shelf}.${slot} on that segment and does not mask this host's MAC`,
      );
    }
    if (target.state === "reserved") {
      throw new EtherplaneError(
        "REFUSED",
        `e${shelf}.${slot} is reserved by another host; release it there (or force-set the reservation)`,
      );
    }
    return new AoeBlockDevice(this.engine, target, options);
  }

  close(): void {
    this.engine.close();
    for (const socket of this.sockets) socket.close();
  }
}
