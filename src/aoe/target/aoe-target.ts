/**
 * The AoE target: many exports in one process, each on one or more interfaces. It routes frames to
 * exports, answers broadcast discovery, re-reads interface MTUs, applies new configs live (adding
 * or removing an export leaves the others undisturbed) and drains in-flight I/O on stop.
 * All I/O comes in through `TargetDeps`, so tests and simulators can supply their own.
 */
import { realClock, type Clock, type Timer } from "../../foundation/clock.js";
import { errorMessage, EtherplaneError } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { VectoredBlockDevice } from "../../block/block-device.js";
import {
  PacketType,
  packetTypeOf,
  vlanIdOf,
  viaUpperInterface,
  type FrameInfos,
  type RawSocket,
} from "../../net/raw-socket/raw-socket.js";
import {
  AOE_SHELF_BROADCAST,
  AOE_SLOT_BROADCAST,
  AoeCommand,
  decodeConfig,
  decodeHeader,
  isInvalid,
  macToString,
  parseMac,
  sectorsPerFrame,
  validateRequestHeader,
  type DropReason,
} from "../codec/index.js";
import { AoeExport, settingsOf, type Port } from "./aoe-export.js";
import { exportKey, type ExportConfig, type TargetConfig } from "./config.js";
import { countDrop, type ExportCounters } from "./counters.js";
import { describeBacking, type Backing } from "./backing.js";
import type { BackedStateStore, ExportState, LoadedExportState } from "./export-state.js";
import { TargetFastPath } from "./fast-path.js";

export interface TargetDeps {
  openSocket(ifname: string): RawSocket;
  openDevice(path: string, options: { readOnly: boolean }): Promise<VectoredBlockDevice>;
  stateStore: BackedStateStore;
  log: Logger;
  /** How often interface MTUs are re-read. */
  mtuPollMs?: number;
  /** Time for MTU polling and the drain timeout; the real clock by default. */
  clock?: Clock;
  /**
   * Let sockets that can (the af_packet addon) answer plain ATA READs, and WRITEs of exports
   * that are neither durable nor read-only, natively (fast-path.ts); on by default, off with
   * `aoe serve --no-fast-path` to compare.
   */
  fastPath?: boolean;
}

export interface TargetStats {
  /** Frames no export took, by reason (malformed, for other targets, responses...). */
  drops: Partial<Record<DropReason, number>>;
  framesIn: number;
  interfaces: Array<{
    ifname: string;
    mtu: number;
    sectorsMax: number;
    kernelDrops: number;
    sendDrops: number;
  }>;
  exports: Array<{
    address: string;
    path: string;
    sizeBytes: number;
    interfaces: string[];
    readOnly: boolean;
    durable: boolean;
    /** What the persisted state below belongs to (describeBacking). */
    backing: string;
    /** Restrictions in force: an empty list restricts nothing. */
    macMask: string[];
    reservation: string[];
    counters: ExportCounters;
  }>;
}

interface PortEntry extends Port {
  socket: RawSocket;
  /** Exports on this interface by shelf * 256 + slot. */
  exports: Map<number, AoeExport>;
}

interface ExportEntry {
  config: ExportConfig;
  export: AoeExport;
  backing: Backing;
}

const routeKey = (shelf: number, slot: number) => shelf * 256 + slot;

const sameMacs = (a: readonly Buffer[], b: readonly Buffer[]) =>
  a.length === b.length && a.every((mac, i) => mac.equals(b[i] as Buffer));

/** Whether applying `patch` would change the persisted state (re-applying a config is a no-op). */
function changesState(current: Readonly<ExportState>, patch: Partial<ExportState>): boolean {
  return (
    (patch.macMask !== undefined && !sameMacs(current.macMask, patch.macMask)) ||
    (patch.reservation !== undefined && !sameMacs(current.reservation, patch.reservation)) ||
    (patch.configString !== undefined && !current.configString.equals(patch.configString))
  );
}

function toMacs(list: readonly string[]): Buffer[] {
  return list.map((text) => parseMac(text) as Buffer);
}

export class AoeTarget {
  private readonly ports = new Map<string, PortEntry>();
  private readonly exports = new Map<string, ExportEntry>();
  private readonly drops: Partial<Record<DropReason, number>> = {};
  /** Exports that queued I/O during the batch being received. */
  private batchExports: AoeExport[] = [];
  private framesIn = 0;
  private stopping = false;
  private bufferCount = 0;
  private readonly clock: Clock;
  private readonly mtuTimer: Timer;
  private readonly fastPath: TargetFastPath;
  /** apply() calls run one after another. */
  private applying: Promise<void> = Promise.resolve();

  private constructor(private readonly deps: TargetDeps) {
    this.clock = deps.clock ?? realClock;
    this.fastPath = new TargetFastPath(deps.fastPath ?? true);
    this.mtuTimer = this.clock.setInterval(() => this.pollMtus(), deps.mtuPollMs ?? 1000, {
      keepAlive: false,
    });
  }

  static async start(config: TargetConfig, deps: TargetDeps): Promise<AoeTarget> {
    const target = new AoeTarget(deps);
    try {
      await target.apply(config);
    } catch (error) {
      await target.stop();
      throw error;
    }
    return target;
  }

  /**
   * Makes the running target match `config`. Everything that can fail (opening devices and
   * sockets, loading state) happens before anything running is changed; then exports are added,
   * changed in place (mask list, reservation, durability) or removed (after their in-flight I/O).
   */
  apply(config: TargetConfig): Promise<void> {
    const run = this.applying.then(() => this.applyNow(config));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(config: TargetConfig): Promise<void> {
    if (this.stopping) throw new EtherplaneError("CLOSED", "the target is stopping");
    const wanted = new Map(
      config.exports.map((entry) => [exportKey(entry.shelf, entry.slot), entry]),
    );
    const replaced = (key: string, entry: ExportConfig) => {
      const current = this.exports.get(key)?.config;
      return (
        current !== undefined &&
        (current.path !== entry.path ||
          current.readOnly !== entry.readOnly ||
          current.model !== entry.model ||
          current.serial !== entry.serial ||
          current.volumeId !== entry.volumeId ||
          current.sizeBytes !== entry.sizeBytes ||
          current.interfaces.join() !== entry.interfaces.join())
      );
    };

    // 1. Prepare: new sockets, devices and state, without touching what runs.
    const newPorts: PortEntry[] = [];
    const prepared: ExportEntry[] = [];
    try {
      for (const ifname of new Set(config.exports.flatMap((entry) => entry.interfaces))) {
        if (!this.ports.has(ifname)) newPorts.push(this.openPort(ifname));
      }
      for (const [key, entry] of wanted) {
        if (this.exports.has(key) && !replaced(key, entry)) continue;
        prepared.push(await this.prepareExport(entry, config.bufferCount, newPorts));
      }
    } catch (error) {
      for (const port of newPorts) port.socket.close();
      await Promise.all(
        prepared.map((entry) => entry.export.device.close().catch(() => undefined)),
      );
      // Preparing may have set aside or rewritten the file of an export that keeps running (its
      // path was to change): it writes its own state back, so a restart still finds it.
      for (const entry of prepared) {
        const running = this.exports.get(entry.export.key);
        if (running) await running.export.state.replace({}).catch(() => undefined);
      }
      throw error;
    }

    // 2. Switch: routes change synchronously, so no frame sees a half-applied config.
    this.bufferCount = config.bufferCount;
    for (const port of newPorts) this.ports.set(port.ifname, port);
    const retired: AoeExport[] = [];
    for (const [key, entry] of this.exports) {
      if (!wanted.has(key) || replaced(key, wanted.get(key) as ExportConfig)) {
        this.unroute(entry);
        this.exports.delete(key);
        retired.push(entry.export);
      }
    }
    for (const entry of prepared) {
      this.exports.set(entry.export.key, entry);
      this.route(entry);
    }
    const changes: Array<Promise<void>> = [];
    for (const [key, entry] of this.exports) {
      const next = wanted.get(key) as ExportConfig;
      entry.export.settings = settingsOf(next, config.bufferCount);
      const patch = this.statePatch(next);
      if (!prepared.includes(entry) && changesState(entry.export.state.current, patch)) {
        changes.push(entry.export.state.replace(patch));
      }
      entry.config = next;
    }
    // The native tables follow before any frame is read (and before unused ports close).
    this.pushFastPath();
    for (const [ifname, port] of this.ports) {
      if (port.exports.size === 0) {
        port.socket.close();
        this.ports.delete(ifname);
      }
    }
    for (const entry of prepared) this.announce(entry);
    for (const entry of prepared) {
      const { macMask, reservation } = entry.export.currentState();
      this.deps.log.info(`exporting e${entry.export.key}`, {
        path: entry.config.path,
        ...(entry.config.volumeId !== undefined ? { volumeId: entry.config.volumeId } : {}),
        interfaces: entry.config.interfaces.join(","),
        sizeBytes: entry.export.device.sizeBytes,
        readOnly: entry.config.readOnly,
        durable: entry.config.durable,
        ...(macMask.length > 0 ? { macMask: macMask.map(macToString).join(",") } : {}),
        ...(reservation.length > 0 ? { reservedBy: reservation.map(macToString).join(",") } : {}),
      });
    }

    // 3. Retire: removed exports finish their in-flight requests, then close.
    await Promise.all(changes);
    await Promise.all(
      retired.map(async (old) => {
        await old.drain();
        await old.device
          .close()
          .catch((error: unknown) =>
            this.deps.log.warn("close failed", { error: errorMessage(error) }),
          );
        this.deps.log.info(`stopped exporting e${old.key}`);
      }),
    );
  }

  private statePatch(config: ExportConfig): Partial<ExportState> {
    const patch: Partial<ExportState> = {};
    if (config.macMask) patch.macMask = toMacs(config.macMask);
    if (config.reservation) patch.reservation = toMacs(config.reservation);
    if (config.configString !== undefined) patch.configString = Buffer.from(config.configString);
    return patch;
  }

  private async prepareExport(
    config: ExportConfig,
    bufferCount: number,
    newPorts: readonly PortEntry[],
  ): Promise<ExportEntry> {
    const key = exportKey(config.shelf, config.slot);
    const device = await this.deps.openDevice(config.path, { readOnly: config.readOnly });
    let loaded: LoadedExportState;
    const patch = this.statePatch(config);
    try {
      loaded = await this.deps.stateStore.load(key, {
        path: config.path,
        ...(config.volumeId !== undefined ? { volumeId: config.volumeId } : {}),
      });
      this.logOrigin(key, loaded);
      if (Object.keys(patch).length > 0 || loaded.rewrite)
        await this.deps.stateStore.save(key, loaded.backing, { ...loaded.state, ...patch });
    } catch (error) {
      await device.close().catch(() => undefined);
      throw error;
    }
    const { backing } = loaded;
    const store = this.deps.stateStore;
    // With the fast path on, the export's writes may be executed natively too: its write order
    // then keeps its completed writes in the adapter's memory, which the addon shares.
    const fastPath =
      (this.deps.fastPath ?? true)
        ? config.interfaces
            .map(
              (ifname) =>
                (this.ports.get(ifname) ?? newPorts.find((p) => p.ifname === ifname))?.socket
                  .fastPath,
            )
            .find((native) => native !== undefined)
        : undefined;
    const aoeExport = new AoeExport(
      config.shelf,
      config.slot,
      device,
      settingsOf(config, bufferCount),
      { ...loaded.state, ...patch },
      // Every later save records the backing this export serves.
      { save: (k, state) => store.save(k, backing, state) },
      this.deps.log,
      {
        ...(config.model ? { model: config.model } : {}),
        ...(config.serial ? { serial: config.serial } : {}),
      },
      undefined,
      fastPath?.newWriteMemory(),
      this.clock,
    );
    // A MAC mask or reservation edit re-pushes the tables before its reply goes out.
    aoeExport.state.onChange = () => this.pushFastPath();
    return { config, export: aoeExport, backing };
  }

  /** Says when persisted state was not applied (another backing) or adopted (no record). */
  private logOrigin(key: string, loaded: LoadedExportState): void {
    const restrictions = (state: ExportState) => ({
      macMask: state.macMask.map(macToString).join(",") || "-",
      reservedBy: state.reservation.map(macToString).join(",") || "-",
    });
    if (loaded.origin === "set-aside" && loaded.previous) {
      const { previous } = loaded;
      this.deps.log.warn(
        `e${key}: persisted state (MAC mask, reservation, config string) was set for ${describeBacking(previous.backing)}, not for ${describeBacking(loaded.backing)} served now: not applied, moved to ${previous.movedTo}`,
        {
          address: key,
          oldBacking: describeBacking(previous.backing),
          newBacking: describeBacking(loaded.backing),
          movedTo: previous.movedTo,
          ...restrictions(previous.state),
        },
      );
    } else if (loaded.origin === "adopted") {
      this.deps.log.warn(
        `e${key}: persisted state has no backing record (written by an older etherplane): adopted for ${describeBacking(loaded.backing)}; clear it with --reset-state ${key} if it belongs to another disk`,
        { address: key, backing: describeBacking(loaded.backing), ...restrictions(loaded.state) },
      );
    }
  }

  private openPort(ifname: string): PortEntry {
    const socket = this.deps.openSocket(ifname);
    const port: PortEntry = {
      ifname,
      mac: socket.mac,
      sectorsMax: sectorsPerFrame(socket.mtu()),
      socket,
      exports: new Map(),
      send: (frame) => {
        socket.send([frame]);
      },
    };
    socket.onFrames((frames, infos) => this.receive(port, frames, infos));
    return port;
  }

  private route(entry: ExportEntry): void {
    for (const ifname of entry.config.interfaces) {
      this.ports
        .get(ifname)
        ?.exports.set(routeKey(entry.config.shelf, entry.config.slot), entry.export);
    }
  }

  private unroute(entry: ExportEntry): void {
    for (const ifname of entry.config.interfaces) {
      this.ports.get(ifname)?.exports.delete(routeKey(entry.config.shelf, entry.config.slot));
    }
  }

  private announce(entry: ExportEntry): void {
    for (const ifname of entry.config.interfaces) {
      const port = this.ports.get(ifname);
      if (port) entry.export.announce(port);
    }
  }

  private receive(port: PortEntry, frames: Buffer[], infos: FrameInfos): void {
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as Buffer;
      this.framesIn++;
      if (this.stopping) {
        countDrop(this.drops, "stopping");
        continue;
      }
      const info = infos[i] ?? 0;
      if (info !== 0) {
        // The kernel strips an 802.1Q tag before a packet socket sees the frame: executed as if
        // untagged, a target on a trunk would answer every VLAN. A priority tag (VLAN 0, 802.1p)
        // is the native LAN. To serve a VLAN, run on its VLAN interface (README, aoe serve).
        // Checked first: the kernel also marks a tagged frame of a VLAN it has no interface for
        // PACKET_OTHERHOST (__netif_receive_skb_core, net/core/dev.c). A frame of a VLAN that
        // has an interface here reaches us untagged, but through that interface.
        if ((vlanIdOf(info) ?? 0) !== 0 || viaUpperInterface(info)) {
          countDrop(this.drops, "vlan-tagged");
          continue;
        }
        // A packet socket also gets frames for other stations (a flooding switch, promiscuous
        // mode): two targets exporting one address would both execute a write. Dropped.
        if (packetTypeOf(info) === PacketType.otherHost) {
          countDrop(this.drops, "other-host");
          continue;
        }
      }
      const header = decodeHeader(frame);
      if (isInvalid(header)) {
        countDrop(this.drops, header.reason);
        continue;
      }
      const bad = validateRequestHeader(header);
      const broadcast = header.shelf === AOE_SHELF_BROADCAST || header.slot === AOE_SLOT_BROADCAST;
      // A bad version or bad flags get an error reply from the export they are addressed to.
      if (bad && (broadcast || (bad.reason !== "bad-version" && bad.reason !== "bad-flags"))) {
        countDrop(this.drops, bad.reason);
        continue;
      }
      if (broadcast) {
        this.receiveBroadcast(port, frame, header);
        continue;
      }
      const target = port.exports.get(routeKey(header.shelf, header.slot));
      if (!target) {
        countDrop(this.drops, "not-addressed");
        continue;
      }
      target.receive(frame, header, port);
    }
    if (this.batchExports.length > 0) {
      const exports = this.batchExports;
      this.batchExports = [];
      for (const e of exports) e.endBatch();
    }
  }

  /** Broadcast addressing (AoEr11 2.3, 2.4) is for discovery only: query config, version 1. */
  private receiveBroadcast(
    port: PortEntry,
    frame: Buffer,
    header: ReturnType<typeof decodeHeader>,
  ): void {
    if (isInvalid(header)) return;
    if (header.command !== AoeCommand.queryConfig || header.version !== 1) {
      countDrop(this.drops, "not-addressed");
      return;
    }
    const message = decodeConfig(frame, header);
    if (isInvalid(message)) {
      countDrop(this.drops, message.reason);
      return;
    }
    for (const target of port.exports.values()) {
      const shelfMatches = header.shelf === AOE_SHELF_BROADCAST || header.shelf === target.shelf;
      const slotMatches = header.slot === AOE_SLOT_BROADCAST || header.slot === target.slot;
      if (shelfMatches && slotMatches) target.receiveBroadcastConfig(message, port);
    }
  }

  private pollMtus(): void {
    for (const port of this.ports.values()) {
      let mtu: number;
      try {
        mtu = port.socket.mtu();
      } catch (error) {
        this.deps.log.warn(`cannot read the MTU of ${port.ifname}`, { error: errorMessage(error) });
        continue;
      }
      const sectors = sectorsPerFrame(mtu);
      if (sectors === port.sectorsMax) continue;
      this.deps.log.info(`${port.ifname}: MTU is now ${mtu}, ${sectors} sectors per frame`);
      port.sectorsMax = sectors;
      this.pushFastPath();
      // Tell initiators at once; the Linux initiator re-reads the size on its next discovery.
      for (const target of port.exports.values()) target.announce(port);
    }
  }

  /** Re-reads MTUs now (tests; SIGHUP). */
  refreshMtus(): void {
    this.pollMtus();
  }

  private pushFastPath(): void {
    this.fastPath.push(this.ports.values(), this.stopping);
  }

  stats(): TargetStats {
    this.fastPath.collect(this.ports.values());
    return {
      drops: { ...this.drops },
      framesIn: this.framesIn + this.fastPath.framesAnswered,
      interfaces: [...this.ports.values()].map((port) => {
        const socketStats = port.socket.stats();
        return {
          ifname: port.ifname,
          mtu: port.socket.mtu(),
          sectorsMax: port.sectorsMax,
          kernelDrops: socketStats.kernelDrops,
          sendDrops: socketStats.sendDrops,
        };
      }),
      exports: [...this.exports.values()].map(({ config, export: e, backing }) => ({
        address: e.key,
        path: config.path,
        sizeBytes: e.device.sizeBytes,
        interfaces: config.interfaces,
        readOnly: e.settings.readOnly,
        durable: e.settings.durable,
        backing: describeBacking(backing),
        macMask: e.currentState().macMask.map(macToString),
        reservation: e.currentState().reservation.map(macToString),
        counters: { ...e.counters, drops: { ...e.counters.drops } },
      })),
    };
  }

  /** The exports' current persisted state (MAC masks, reservations, config strings). */
  exportState(address: string): Readonly<ExportState> | undefined {
    return this.exports.get(address)?.export.currentState();
  }

  get advertisedBufferCount(): number {
    return this.bufferCount;
  }

  /**
   * Stops taking requests, lets every in-flight request finish (so acknowledged writes are
   * written), flushes the devices to stable storage and closes everything.
   */
  async stop(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.pushFastPath(); // no frame is answered natively from here on
    this.mtuTimer.cancel();
    await this.applying;
    const entries = [...this.exports.values()];
    const drained = Promise.all(entries.map((entry) => entry.export.drain()));
    let timer: Timer | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = this.clock.setTimeout(() => resolve("timeout"), options.drainTimeoutMs ?? 30_000);
    });
    if ((await Promise.race([drained, timedOut])) === "timeout") {
      this.deps.log.warn("stopping with requests still in flight after the drain timeout");
    }
    timer?.cancel();
    for (const { export: e } of entries) {
      await e.device
        .flush()
        .catch((error: unknown) =>
          this.deps.log.error(`flush of e${e.key} failed`, { error: errorMessage(error) }),
        );
      await e.device.close().catch(() => undefined);
    }
    // The exports stay listed (devices closed) so the final stats still show their counters.
    // Replies already queued go out before the sockets close (the adapter flushes on setImmediate).
    await new Promise((resolve) => setImmediate(resolve));
    for (const port of this.ports.values()) port.socket.close();
    this.ports.clear();
  }
}
