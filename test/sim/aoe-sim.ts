/**
 * The AoE data path on a simulator: our target and initiators in one process, on simulated
 * Ethernet segments (link i joins the interfaces named tgtI, iniI, evilI...), with disks in memory
 * and virtual time. The simulated counterpart of test/lab/aoe-lab.ts: no root, no kernel, and a
 * run replays from its seed.
 */
import { SimClock } from "../../src/foundation/sim-clock.js";
import { createLogger } from "../../src/foundation/log.js";
import { AOE_ETHERTYPE } from "../../src/aoe/codec/header.js";
import { AoeTarget, type TargetDeps } from "../../src/aoe/target/aoe-target.js";
import { parseTargetConfig } from "../../src/aoe/target/config.js";
import { AoeInitiator } from "../../src/aoe/initiator/aoe-initiator.js";
import { MemoryBlockDevice, type MemoryDeviceOptions } from "./memory-block-device.js";
import { MemoryStateStore } from "./memory-state-store.js";
import { SeededRandom } from "./random.js";
import { SimSegment, type LinkFaults, type SimRawSocket } from "./sim-segment.js";

export interface AoeSimOptions {
  seed: number;
  /** Segments (default 1). */
  links?: number;
  faults?: Partial<LinkFaults>;
}

/** Runs under virtual time: the simulated counterpart of awaiting a promise. */
export type SimRun = <T>(promise: Promise<T>, what?: string) => Promise<T>;

export class AoeSim {
  readonly clock = new SimClock();
  readonly random: SeededRandom;
  readonly links: SimSegment[];
  readonly devices = new Map<string, MemoryBlockDevice>();
  readonly stateStore = new MemoryStateStore();
  private readonly macs = new Map<string, Buffer>();
  private readonly mtus = new Map<string, number>();
  private readonly open = new Map<string, SimRawSocket>();
  private readonly initiators: AoeInitiator[] = [];
  private readonly targets: AoeTarget[] = [];

  constructor(readonly options: AoeSimOptions) {
    this.random = new SeededRandom(options.seed);
    this.links = Array.from(
      { length: options.links ?? 1 },
      (_, i) => new SimSegment(this.clock, this.random.fork(), options.faults ?? {}, i),
    );
  }

  /** Runs the simulation until `promise` settles (at most 10 virtual minutes). */
  run: SimRun = (promise, what) => this.clock.run(promise, what);

  /** The link an interface is on: the number its name ends with. */
  link(ifname: string): SimSegment {
    const index = Number(/(\d+)$/.exec(ifname)?.[1] ?? "0");
    const link = this.links[index];
    if (!link) throw new Error(`simulation: no link ${index} for ${ifname}`);
    return link;
  }

  /** Opens a socket on `ifname`; reopening an interface keeps its MAC and MTU. */
  socket(ifname: string, options: { reuseReceiveBuffer?: boolean } = {}): SimRawSocket {
    const link = this.link(ifname);
    const mac = this.macs.get(ifname);
    const socket = link.attach(ifname, {
      ethertype: AOE_ETHERTYPE,
      mtu: this.mtus.get(ifname) ?? 1500,
      ...(mac ? { mac } : {}),
      ...options,
    });
    this.macs.set(ifname, socket.mac);
    this.open.set(ifname, socket);
    return socket;
  }

  /** The socket open on `ifname` now (the latest opened). */
  opened(ifname: string): SimRawSocket {
    const socket = this.open.get(ifname);
    if (!socket || socket.closed) throw new Error(`simulation: nothing open on ${ifname}`);
    return socket;
  }

  /** The MAC an interface has (or will have when opened). */
  mac(ifname: string): Buffer {
    return this.macs.get(ifname) ?? this.socket(ifname).mac;
  }

  /** Like `ip link set IF mtu N`, for sockets open now and later. */
  setMtu(ifname: string, mtu: number): void {
    this.mtus.set(ifname, mtu);
    this.open.get(ifname)?.setMtu(mtu);
  }

  /** A memory disk the target can open as `path`. */
  disk(path: string, bytes: Buffer | number, options: MemoryDeviceOptions = {}): MemoryBlockDevice {
    const device = new MemoryBlockDevice(typeof bytes === "number" ? Buffer.alloc(bytes) : bytes, {
      clock: this.clock,
      ...options,
    });
    this.devices.set(path, device);
    return device;
  }

  /** Starts our target on the simulated links (config as in the JSON file). */
  startTarget(raw: Record<string, unknown>, deps: Partial<TargetDeps> = {}): Promise<AoeTarget> {
    const config = parseTargetConfig({ stateDir: "/sim/state", ...raw });
    const started = AoeTarget.start(config, {
      openSocket: (ifname) => this.socket(ifname),
      openDevice: (path, options) => {
        const device = this.devices.get(path);
        if (!device) return Promise.reject(new Error(`simulation: no disk ${path}`));
        if (options.readOnly !== device.readOnly && !options.readOnly)
          return Promise.reject(new Error(`simulation: disk ${path} is read-only`));
        device.closed = false;
        return Promise.resolve(device);
      },
      stateStore: this.stateStore,
      log: createLogger("sim:aoe:target"),
      mtuPollMs: 200,
      clock: this.clock,
      ...deps,
    });
    return this.run(started, "the target to start").then((target) => {
      this.targets.push(target);
      return target;
    });
  }

  /** An initiator on simulated interfaces, on the simulated clock. */
  initiator(ifnames: string[]): AoeInitiator {
    const initiator = new AoeInitiator(
      // As the CLI opens them: frames valid during the handler only (the engine copies).
      ifnames.map((ifname) => this.socket(ifname, { reuseReceiveBuffer: true })),
      { clock: this.clock, firstTag: this.random.next() },
    );
    this.initiators.push(initiator);
    return initiator;
  }

  /** Closes initiators and stops targets (under virtual time). */
  async close(): Promise<void> {
    for (const initiator of this.initiators) initiator.close();
    for (const target of this.targets) await this.run(target.stop(), "the target to stop");
  }
}
