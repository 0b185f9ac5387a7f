/**
 * Finds AoE targets on this host's export segments that this host does not serve: a discovery
 * (broadcast query config) on each export interface now and then. The controller refuses to give
 * their shelf.slot to a volume (two targets answering one address would corrupt both).
 */
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import { AoeInitiator } from "../../aoe/initiator/aoe-initiator.js";
import type { AgentStatus } from "../agent-protocol.js";

export type ForeignTarget = AgentStatus["foreignTargets"][number];

export class ForeignTargetScanner {
  private found: ForeignTarget[] = [];
  private lastScanMs = 0;
  private scanning = false;

  constructor(
    private readonly openSocket: (ifname: string) => RawSocket,
    private readonly log: Logger,
    private readonly intervalMs = 30_000,
    private readonly listenMs = 1000,
  ) {}

  /** The targets seen by the last scan. */
  get targets(): ForeignTarget[] {
    return this.found;
  }

  /** Starts a scan in the background when one is due; never blocks the caller. */
  maybeScan(ifnames: readonly string[], ownMacs: ReadonlySet<string>): void {
    if (this.scanning || ifnames.length === 0 || Date.now() - this.lastScanMs < this.intervalMs)
      return;
    this.scanning = true;
    this.lastScanMs = Date.now();
    this.scan(ifnames, ownMacs)
      .then((found) => {
        this.found = found;
      })
      .catch((error: unknown) => this.log.warn(`AoE discovery failed: ${errorMessage(error)}`))
      .finally(() => {
        this.scanning = false;
      });
  }

  private async scan(
    ifnames: readonly string[],
    ownMacs: ReadonlySet<string>,
  ): Promise<ForeignTarget[]> {
    const initiator = new AoeInitiator(ifnames.map((ifname) => this.openSocket(ifname)));
    try {
      const targets = await initiator.discover({ listenMs: this.listenMs, identifyTimeoutMs: 500 });
      const found: ForeignTarget[] = [];
      for (const target of targets) {
        for (const path of target.paths) {
          if (!ownMacs.has(path.mac))
            found.push({ shelf: target.shelf, slot: target.slot, mac: path.mac });
        }
      }
      return found;
    } finally {
      initiator.close();
    }
  }
}
