/**
 * Discovery as `aoe-discover` + `aoe-stat` do it: a broadcast query config on every interface,
 * answers collected for a while, then an IDENTIFY to each target for its size. Several answers for
 * the same shelf.slot (several targets or interfaces) become the paths of one device.
 */
import type { Timer } from "../../foundation/clock.js";
import { EtherplaneError } from "../../foundation/errors.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import {
  AOE_SHELF_BROADCAST,
  AOE_SLOT_BROADCAST,
  AOE_TAG,
  AoeCommand,
  AtaCommand,
  ATA_DATA,
  decodeConfig,
  decodeIdentify,
  isInvalid,
  macToString,
  sectorsPerFrame,
  type IdentifyInfo,
} from "../codec/index.js";
import { newPath, type InitiatorEngine, type Path } from "./engine.js";
import { aoeErrorOf, ataCommand, ataErrorOf, queryConfig } from "./requests.js";

export interface TargetPath {
  ifname: string;
  /** The target's MAC on this path. */
  mac: string;
  bufferCount: number;
  /** Sectors per ATA frame on this path: the target's limit and our interface MTU's. */
  sectorsMax: number;
  firmware: number;
  configString: string;
}

export interface DiscoveredTarget {
  shelf: number;
  slot: number;
  paths: TargetPath[];
  /** From IDENTIFY; absent when the target did not answer it (state tells why). */
  identify?: IdentifyInfo;
  state: "up" | "reserved" | "unanswered";
}

export interface DiscoverOptions {
  /** How long to collect query config answers. */
  listenMs?: number;
  /**
   * Stop this long after the first answer instead (the other paths of one shelf.slot answer
   * within it): a device opens in a few ms rather than a whole `listenMs` on a quiet segment.
   */
  settleMs?: number;
  /** Only this shelf.slot (unicast-addressed query, still to the broadcast MAC). */
  shelf?: number;
  slot?: number;
  identifyTimeoutMs?: number;
}

function socketByName(sockets: readonly RawSocket[], ifname: string): RawSocket {
  const socket = sockets.find((s) => s.ifname === ifname);
  if (!socket) throw new EtherplaneError("NOT_FOUND", `no socket on ${ifname}`);
  return socket;
}

export async function discover(
  engine: InitiatorEngine,
  options: DiscoverOptions = {},
): Promise<DiscoveredTarget[]> {
  const shelf = options.shelf ?? AOE_SHELF_BROADCAST;
  const slot = options.slot ?? AOE_SLOT_BROADCAST;
  const found = new Map<string, DiscoveredTarget>();
  const tag = engine.allocateTag();
  let finish: () => void = () => undefined;
  const listened = new Promise<void>((resolve) => (finish = resolve));
  let settle: Timer | undefined;
  const stop = engine.listen(tag, (frame, header, socket) => {
    if (header.command !== AoeCommand.queryConfig || aoeErrorOf(header, "query config")) return;
    // Answers carrying broadcast addresses are discarded, as the kernel does (aoecmd.c).
    if (header.shelf === AOE_SHELF_BROADCAST || header.slot === AOE_SLOT_BROADCAST) return;
    if (shelf !== AOE_SHELF_BROADCAST && header.shelf !== shelf) return;
    if (slot !== AOE_SLOT_BROADCAST && header.slot !== slot) return;
    const message = decodeConfig(frame, header);
    if (isInvalid(message)) return;
    const key = `${header.shelf}.${header.slot}`;
    const target: DiscoveredTarget = found.get(key) ?? {
      shelf: header.shelf,
      slot: header.slot,
      paths: [],
      state: "unanswered",
    };
    found.set(key, target);
    const mac = macToString(header.src);
    if (target.paths.some((p) => p.mac === mac && p.ifname === socket.ifname)) return;
    const { config } = message;
    target.paths.push({
      ifname: socket.ifname,
      mac,
      bufferCount: config.bufferCount,
      // 0 means 2 (AoEr11 3.2); our own interface's MTU limits it too.
      sectorsMax: Math.min(
        config.sectorCount === 0 ? 2 : config.sectorCount,
        sectorsPerFrame(socket.mtu()),
      ),
      firmware: config.firmware,
      configString: config.configString.toString("latin1"),
    });
    if (options.settleMs !== undefined)
      settle ??= engine.clock.setTimeout(finish, options.settleMs);
  });
  try {
    for (const socket of engine.sockets) {
      const frame = queryConfig(shelf, slot, true);
      socket.mac.copy(frame, 6);
      frame.writeUInt32BE(tag, AOE_TAG);
      socket.send([frame]);
    }
    const listen = engine.clock.setTimeout(finish, options.listenMs ?? 1000);
    await listened;
    listen.cancel();
  } finally {
    settle?.cancel();
    stop();
  }
  const targets = [...found.values()].sort((a, b) => a.shelf - b.shelf || a.slot - b.slot);
  await Promise.all(
    targets.map((target) => identifyTarget(engine, target, options.identifyTimeoutMs ?? 3000)),
  );
  return targets;
}

/** Paths of a discovered target, ready for the engine. */
export function enginePaths(engine: InitiatorEngine, target: DiscoveredTarget): Path[] {
  return target.paths.map((p) => {
    const socket = socketByName(engine.sockets, p.ifname);
    const mac = Buffer.from(p.mac.split(":").map((h) => parseInt(h, 16)));
    return newPath(socket, mac, p.bufferCount);
  });
}

async function identifyTarget(
  engine: InitiatorEngine,
  target: DiscoveredTarget,
  timeoutMs: number,
): Promise<void> {
  if (target.paths.length === 0) return;
  try {
    const reply = await new Promise<Buffer>((resolve, reject) =>
      engine.submit({
        frame: ataCommand(target.shelf, target.slot, AtaCommand.identifyDevice),
        paths: enginePaths(engine, target),
        deadlineMs: engine.clock.nowMs() + timeoutMs,
        onReply: (frame, header) => {
          const error = ataErrorOf(frame, header, "IDENTIFY");
          if (error) reject(error);
          else resolve(frame);
        },
        onFail: reject,
      }),
    );
    const info = decodeIdentify(reply.subarray(ATA_DATA));
    if (info) {
      target.identify = info;
      target.state = "up";
    }
  } catch (error) {
    if (error instanceof EtherplaneError && error.params["aoeError"] === 6)
      target.state = "reserved";
  }
}
