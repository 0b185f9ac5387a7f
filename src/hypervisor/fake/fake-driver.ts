/**
 * A fake HypervisorDriver, in memory, for fast tests of the agent. It keeps the contract
 * (driver.contract.ts) with simulated guests: each boots after `bootDelayMs`, prints a boot line
 * and the console guest's ready line, and answers the console-guest commands (fake-console.ts).
 *
 * The simulated host (`FakeHost`) is separate from the driver, so that a second driver over the
 * same host behaves as an agent restarted on a real one. It has a memory size (guests beyond the
 * free memory are UNAVAILABLE), a set of bridges (a vif on another one is UNAVAILABLE) and, as its
 * "residue", the taps it made (`vif<domid>.<n>`, as the real drivers name them).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type {
  GuestConsoleSession,
  GuestExit,
  GuestInfo,
  GuestSpec,
  GuestStateFlags,
  HypervisorDriver,
  HypervisorHostInfo,
} from "../driver.js";
import { checkGuestIdentity, NIL_UUID } from "../guest-identity.js";
import { consoleGuestReadyPrefix } from "./console-guest.js";
import { FakeConsole } from "./fake-console.js";
import { FakeGuestMigrator } from "./fake-migration.js";
import type { GuestMigrator } from "../migration.js";

export interface FakeHostOptions {
  /** Bridges that exist on the fake host; `["xenbr0"]` by default. */
  bridges?: readonly string[];
  /** 16384 by default. */
  totalMemoryMiB?: number;
  /** Kept for the host, not given to guests; 0 by default. */
  hostReserveMiB?: number;
  cpus?: number;
  /** From create to the ready line; 5 ms by default. */
  bootDelayMs?: number;
  /** From a shutdown/reboot request to the guest's exit; 5 ms by default. */
  stopDelayMs?: number;
  /**
   * Lists a Domain-0 of this much memory (domid 0, the nil uuid), as `xl list` does on a Xen
   * host; none by default.
   */
  dom0MemoryMiB?: number;
}

type Phase = "booting" | "running" | "paused" | "stopped";

interface FakeGuest {
  spec: GuestSpec;
  domid: number;
  phase: Phase;
  exit: GuestExit | null;
  /** A shutdown/reboot asked while paused happens on unpause. */
  pendingExit: GuestExit | null;
  console: FakeConsole;
  startedAtMs: number;
  timers: Set<NodeJS.Timeout>;
}

const guestsMax = 1024;

/** The simulated host: guests and bridges, shared by every driver opened on it. */
export class FakeHost {
  readonly guests = new Map<string, FakeGuest>();
  readonly bridges: Set<string>;
  readonly totalMemoryMiB: number;
  readonly hostReserveMiB: number;
  readonly cpus: number;
  readonly bootDelayMs: number;
  readonly stopDelayMs: number;
  lastDomid = 0;
  /** Set: the next incoming migration on this host fails with this message (then clears). */
  incomingFailure: string | null = null;

  constructor(options: FakeHostOptions = {}) {
    this.bridges = new Set(options.bridges ?? ["xenbr0"]);
    this.totalMemoryMiB = options.totalMemoryMiB ?? 16384;
    this.hostReserveMiB = options.hostReserveMiB ?? 0;
    this.cpus = options.cpus ?? 4;
    this.bootDelayMs = options.bootDelayMs ?? 5;
    this.stopDelayMs = options.stopDelayMs ?? 5;
    if (options.dom0MemoryMiB !== undefined) {
      const spec: GuestSpec = {
        ...{ name: "Domain-0", uuid: NIL_UUID, memoryMiB: options.dom0MemoryMiB },
        ...{ vcpus: this.cpus, boot: { kind: "firmware" }, disks: [], vifs: [] },
      };
      this.guests.set(spec.name, {
        ...{ spec, domid: 0, phase: "running", exit: null, pendingExit: null },
        ...{ startedAtMs: Date.now(), timers: new Set() },
        console: new FakeConsole(
          () => undefined,
          () => "ignore",
        ),
      });
    }
  }

  freeMemoryMiB(): number {
    let used = 0;
    for (const guest of this.guests.values()) used += guest.spec.memoryMiB;
    return Math.max(0, this.totalMemoryMiB - this.hostReserveMiB - used);
  }

  /** The taps of every guest: what a destroyed guest must not leave behind. */
  residue(): string[] {
    return [...this.guests.values()]
      .flatMap((guest) => guest.spec.vifs.map((_, index) => `tap vif${guest.domid}.${index}`))
      .sort();
  }
}

const noFlags: GuestStateFlags = {
  running: false,
  blocked: false,
  paused: false,
  shutdown: false,
  crashed: false,
  dying: false,
};

export class FakeHypervisorDriver implements HypervisorDriver {
  readonly kind = "fake" as const;
  readonly host: FakeHost;
  readonly migration: GuestMigrator;

  /** Pass `host` to open a second driver on the same simulated host. */
  constructor(options: { host?: FakeHost } & FakeHostOptions = {}) {
    this.host = options.host ?? new FakeHost(options);
    const host = this.host;
    this.migration = new FakeGuestMigrator({
      create: (spec) => this.create(spec),
      destroy: (name, uuid) => this.destroy(name, uuid),
      list: () => this.list(),
      setPaused: (name, paused) => {
        const guest = host.guests.get(name);
        if (!guest || guest.phase === "stopped") return;
        guest.phase = paused ? "paused" : "running";
        if (!paused) guest.console.resume();
      },
      incomingFailure: () => {
        const failure = host.incomingFailure;
        host.incomingFailure = null;
        return failure;
      },
    });
  }

  hostInfo(): Promise<HypervisorHostInfo> {
    return Promise.resolve({
      kind: "fake",
      version: "0.0.0-fake",
      detail: "in-memory fake",
      cpus: this.host.cpus,
      totalMemoryMiB: this.host.totalMemoryMiB,
      freeMemoryMiB: this.host.freeMemoryMiB(),
    });
  }

  list(): Promise<GuestInfo[]> {
    return Promise.resolve([...this.host.guests.values()].map((guest) => info(guest)));
  }

  create(spec: GuestSpec): Promise<GuestInfo> {
    const host = this.host;
    if (!/^[A-Za-z0-9][\w.-]{0,63}$/.test(spec.name)) {
      return reject("INVALID_ARGUMENT", `guest name ${JSON.stringify(spec.name)}`);
    }
    if (host.guests.has(spec.name)) {
      return reject("CONFLICT", `a guest named ${spec.name} already exists on this host`);
    }
    for (const vif of spec.vifs) {
      if (!host.bridges.has(vif.bridge)) {
        return reject("UNAVAILABLE", `bridge ${vif.bridge} does not exist on this host`);
      }
    }
    if (spec.memoryMiB > host.freeMemoryMiB()) {
      return reject(
        "UNAVAILABLE",
        `guest ${spec.name} needs ${spec.memoryMiB} MiB; ${host.freeMemoryMiB()} MiB free`,
      );
    }
    if (host.guests.size >= guestsMax) return reject("UNAVAILABLE", `${guestsMax} guests already`);
    // As Xen: every new guest gets the next domid, so a restarted guest is a new domain.
    const used = new Set([...host.guests.values()].map((guest) => guest.domid));
    let domid = host.lastDomid + 1;
    while (used.has(domid)) domid += 1;
    host.lastDomid = domid;
    const guest: FakeGuest = {
      spec: structuredClone(spec),
      domid,
      phase: "booting",
      exit: null,
      pendingExit: null,
      startedAtMs: Date.now(),
      timers: new Set(),
      console: new FakeConsole(
        (exit) => stop(guest, exit),
        () => (guest.phase === "running" ? "run" : guest.phase === "stopped" ? "ignore" : "wait"),
      ),
    };
    host.guests.set(spec.name, guest);
    guest.console.print(`[    0.000000] Linux version 0.0.0-fake (fake guest ${spec.name})\n`);
    later(guest, host.bootDelayMs, () => {
      if (guest.phase !== "booting") return;
      guest.phase = "running";
      const uptimeS = ((Date.now() - guest.startedAtMs) / 1000).toFixed(2);
      guest.console.print(`${consoleGuestReadyPrefix} ${spec.name} ${uptimeS}\n`);
      guest.console.resume();
    });
    return Promise.resolve(info(guest));
  }

  async shutdown(name: string, uuid?: string): Promise<void> {
    this.request(await this.guest(name, uuid, "shutdown"), "poweroff");
  }

  async reboot(name: string, uuid?: string): Promise<void> {
    this.request(await this.guest(name, uuid, "reboot"), "reboot");
  }

  async destroy(name: string, uuid?: string): Promise<void> {
    const guest = await this.guest(name, uuid, "destroy");
    for (const timer of guest.timers) clearTimeout(timer);
    guest.console.closeAll();
    this.host.guests.delete(name);
  }

  async pause(name: string, uuid?: string): Promise<void> {
    const guest = await this.running(name, uuid, "pause");
    guest.phase = "paused";
  }

  async unpause(name: string, uuid?: string): Promise<void> {
    const guest = await this.running(name, uuid, "unpause");
    if (guest.phase !== "paused") return;
    guest.phase = "running";
    const pending = guest.pendingExit;
    if (pending) later(guest, this.host.stopDelayMs, () => stop(guest, pending));
    guest.console.resume();
  }

  async console(name: string, uuid?: string): Promise<GuestConsoleSession> {
    return (await this.guest(name, uuid, "console")).console.attach();
  }

  /** The guest named `name`, if it is the one with `uuid` (guest-identity.ts). */
  private async guest(name: string, uuid: string | undefined, what: string): Promise<FakeGuest> {
    const guest = this.host.guests.get(name);
    if (!guest) return reject("NOT_FOUND", `no guest ${name} on this host`);
    checkGuestIdentity({ name, domid: guest.domid, uuid: guest.spec.uuid }, uuid, what);
    return Promise.resolve(guest);
  }

  private async running(name: string, uuid: string | undefined, what: string) {
    const guest = await this.guest(name, uuid, what);
    if (guest.phase === "stopped") {
      throw new EtherplaneError("CONFLICT", `guest ${name} cannot ${what}: it has stopped`);
    }
    return guest;
  }

  private request(guest: FakeGuest, exit: GuestExit): void {
    if (guest.phase === "stopped") {
      throw new EtherplaneError("CONFLICT", `guest ${guest.spec.name} has stopped; destroy it`);
    }
    if (guest.phase === "paused") guest.pendingExit = exit;
    else later(guest, this.host.stopDelayMs, () => stop(guest, exit));
  }
}

function reject<T>(
  code: "INVALID_ARGUMENT" | "CONFLICT" | "UNAVAILABLE" | "NOT_FOUND",
  message: string,
): Promise<T> {
  return Promise.reject(new EtherplaneError(code, message));
}

function later(guest: FakeGuest, delayMs: number, action: () => void): void {
  const timer = setTimeout(() => {
    guest.timers.delete(timer);
    action();
  }, delayMs);
  guest.timers.add(timer);
}

function stop(guest: FakeGuest, exit: GuestExit): void {
  if (guest.phase === "stopped") return;
  guest.phase = "stopped";
  guest.exit = exit;
  guest.pendingExit = null;
}

function info(guest: FakeGuest): GuestInfo {
  const state: GuestStateFlags = { ...noFlags };
  if (guest.phase === "running" || guest.phase === "booting") state.running = true;
  else if (guest.phase === "paused") state.paused = true;
  else if (guest.exit === "crash") state.crashed = true;
  else state.shutdown = true;
  return {
    name: guest.spec.name,
    domid: guest.domid,
    uuid: guest.spec.uuid,
    memoryMiB: guest.spec.memoryMiB,
    vcpus: guest.spec.vcpus,
    state,
    cpuTimeS: (Date.now() - guest.startedAtMs) / 1000,
    exit: guest.exit,
  };
}
