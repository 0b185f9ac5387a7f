/**
 * A compute host's reconcile pass: its networks, then each domain the controller assigned to it,
 * made to match through the hypervisor driver. The agent, not the driver or xl, enforces the
 * domain file's on_poweroff / on_reboot / on_crash (xl.cfg(5)): a guest that stopped by itself
 * is destroyed, restarted or preserved here, and the controller hears what happened.
 */
import { EtherplaneError, errorMessage } from "../../../foundation/errors.js";
import type { Logger } from "../../../foundation/log.js";
import {
  stateFlagsText,
  type GuestInfo,
  type GuestSpec,
  type HypervisorDriver,
} from "../../../hypervisor/driver.js";
import type {
  DesiredDomain,
  DesiredNetwork,
  HostGuest,
  ObservedDomain,
  ObservedNetwork,
} from "../../agent-protocol.js";
import type { DomainAction, HypervisorInventory } from "../../model.js";
import type { ComputeState } from "./compute-state.js";
import { checkDesiredDomain } from "./desired-domain-check.js";
import type { GuestDiskAttacher } from "./guest-disks.js";

/** Makes a host network so (src/net/host-network), or throws why it cannot. */
export type NetworkApplier = (network: DesiredNetwork) => Promise<void>;

export interface ComputeResult {
  domains: ObservedDomain[];
  networks: ObservedNetwork[];
  hypervisor: HypervisorInventory | undefined;
  /** Every guest listed, desired here or not (AgentStatus.guests). */
  guests: HostGuest[];
}

const HOST_INFO_MS = 2000;
/** AgentStatus.guests' bound (api/schemas.ts): a report past it would be refused whole. */
export const GUESTS_REPORTED_MAX = 1024;

function policy(domain: DesiredDomain, exit: NonNullable<GuestInfo["exit"]>): DomainAction {
  if (exit === "poweroff") return domain.onPoweroff;
  if (exit === "reboot") return domain.onReboot;
  return domain.onCrash;
}

/** Whether an action starts the guest again (xl.cfg(5): the coredump and rename variants too). */
function restarts(action: DomainAction): boolean {
  return (
    action === "restart" ||
    action === "coredump-restart" ||
    action === "rename-restart" ||
    action === "soft-reset"
  );
}

/**
 * The guest that is this domain's: its name AND its uuid (the one the agent created it with).
 * A guest of the same name with another uuid, or Domain-0, was not started by this cluster: it
 * is never paused, rebooted, shut down, destroyed or reported as the domain's.
 */
function ownGuest(
  domain: DesiredDomain,
  guests: ReadonlyMap<string, GuestInfo>,
): GuestInfo | undefined {
  const guest = guests.get(domain.name);
  if (!guest || guest.domid === 0) return undefined;
  return guest.uuid.toLowerCase() === domain.uuid.toLowerCase() ? guest : undefined;
}

function foreignGuest(guest: GuestInfo): EtherplaneError {
  return new EtherplaneError(
    "CONFLICT",
    `a guest named ${guest.name} (id ${guest.domid}, uuid ${guest.uuid}) that this cluster did not ` +
      `start runs on this host; it is left alone: stop or rename it with its own tools, or rename the domain`,
    { params: { name: guest.name, domid: guest.domid } },
  );
}

export class ComputeReconciler {
  private hostInfo: { atMs: number; value: HypervisorInventory | undefined } = {
    atMs: 0,
    value: undefined,
  };

  constructor(
    private readonly driver: HypervisorDriver,
    private readonly disks: GuestDiskAttacher,
    private readonly applyNetwork: NetworkApplier,
    private readonly state: ComputeState,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get hypervisorDriver(): HypervisorDriver {
    return this.driver;
  }

  /**
   * Domains a live migration holds (migration-relay.ts): their guest is being sent or is gone
   * by migration, so this pass neither unpauses, restarts nor re-creates it; it only observes.
   */
  holds: (domainId: string) => boolean = () => false;

  async reconcile(
    networks: readonly DesiredNetwork[],
    domains: readonly DesiredDomain[],
  ): Promise<ComputeResult> {
    const observedNetworks: ObservedNetwork[] = [];
    for (const network of networks) {
      try {
        await this.applyNetwork(network);
        observedNetworks.push({ id: network.id, error: null });
      } catch (error) {
        observedNetworks.push({ id: network.id, error: errorMessage(error) });
      }
    }
    let guests = await this.guests();
    for (const domain of domains) {
      if (this.holds(domain.id)) continue;
      try {
        await this.converge(domain, ownGuest(domain, guests));
      } catch (error) {
        this.log.warn(`domain ${domain.name}: ${errorMessage(error)}`);
      }
    }
    this.state.retain(new Set(domains.map((d) => d.id)));
    this.state.save();
    guests = await this.guests();
    const observed = domains.map((d) => this.observe(d, ownGuest(d, guests)));
    return {
      domains: observed,
      networks: observedNetworks,
      hypervisor: await this.inventory(guests, domains),
      guests: [...guests.values()].slice(0, GUESTS_REPORTED_MAX).map(({ name, uuid, state }) => ({
        name,
        uuid,
        state: state.running || state.blocked ? "running" : state.paused ? "paused" : "stopped",
      })),
    };
  }

  /**
   * Destroys the guests (by name AND uuid) of `domains`: domains that now run on another host
   * (DesiredState.evict), or HA domains when this host self-fences. Their disks' data is not
   * touched; only this host's initiator side of them is closed. Returns the names destroyed.
   */
  async destroyGuests(
    domains: ReadonlyArray<{ name: string; uuid: string }>,
    why: string,
  ): Promise<string[]> {
    if (domains.length === 0) return [];
    const guests = await this.guests();
    const destroyed: string[] = [];
    for (const domain of domains) {
      const guest = guests.get(domain.name);
      if (!guest || guest.domid === 0 || guest.uuid.toLowerCase() !== domain.uuid.toLowerCase())
        continue;
      try {
        await this.driver.destroy(domain.name, domain.uuid);
        this.disks.detach(domain.name);
        destroyed.push(domain.name);
        this.log.warn(`domain ${domain.name}: guest destroyed: ${why}`);
      } catch (error) {
        this.log.error(
          `domain ${domain.name}: could not destroy its guest (${why}): ${errorMessage(error)}`,
        );
      }
    }
    return destroyed;
  }

  private async guests(): Promise<Map<string, GuestInfo>> {
    return new Map((await this.driver.list()).map((g) => [g.name, g]));
  }

  private async converge(domain: DesiredDomain, guest: GuestInfo | undefined): Promise<void> {
    const memory = this.state.get(domain.id);
    if (domain.desiredState === "stopped") return this.stop(domain, guest);
    if (guest?.exit) return this.exited(domain, guest);
    if (!guest) {
      if (memory.heldGeneration === domain.generation) return;
      await this.create(domain);
      return;
    }
    if (domain.desiredState === "paused" && !guest.state.paused)
      await this.driver.pause(domain.name, domain.uuid);
    if (domain.desiredState === "running" && guest.state.paused)
      await this.driver.unpause(domain.name, domain.uuid);
    if (domain.rebootSeq > memory.appliedRebootSeq) {
      this.log.info(`domain ${domain.name}: reboot requested`);
      await this.driver.reboot(domain.name, domain.uuid);
      this.state.update(domain.id, { appliedRebootSeq: domain.rebootSeq });
    }
  }

  private async stop(domain: DesiredDomain, guest: GuestInfo | undefined): Promise<void> {
    const memory = this.state.get(domain.id);
    if (!guest) {
      this.disks.detach(domain.name);
      return;
    }
    if (guest.exit) {
      // Stopping anyway: whatever on_* says, the guest that went down stays down.
      this.state.update(domain.id, {
        lastExit: { reason: guest.exit, action: "destroy", atMs: this.now() },
      });
      return this.destroy(domain);
    }
    if (domain.stopMode === "destroy") return this.destroy(domain);
    if (memory.shutdownGeneration !== domain.generation) {
      this.log.info(`domain ${domain.name}: asking the guest to power off`);
      this.state.update(domain.id, {
        shutdownGeneration: domain.generation,
        shutdownAskedMs: this.now(),
      });
      await this.driver.shutdown(domain.name, domain.uuid);
      return;
    }
    if (this.now() - memory.shutdownAskedMs > domain.shutdownTimeoutS * 1000) {
      this.log.warn(
        `domain ${domain.name} did not power off within ${domain.shutdownTimeoutS} s; destroying it`,
      );
      await this.destroy(domain);
    }
  }

  /** The guest stopped by itself: on_poweroff / on_reboot / on_crash decide. */
  private async exited(domain: DesiredDomain, guest: GuestInfo): Promise<void> {
    const exit = guest.exit;
    if (!exit) return;
    const action = policy(domain, exit);
    const memory = this.state.get(domain.id);
    if (action === "preserve") {
      if (memory.preservedDomid === guest.domid) return;
      this.log.info(`domain ${domain.name}: guest ${exit}; kept as it is (preserve)`);
      this.state.update(domain.id, {
        preservedDomid: guest.domid,
        lastExit: { reason: exit, action, atMs: this.now() },
      });
      return;
    }
    this.log.info(`domain ${domain.name}: guest ${exit}; ${action}`);
    if (action.startsWith("coredump-"))
      this.log.warn(`domain ${domain.name}: ${this.driver.kind} core dumps are not kept yet`);
    await this.driver.destroy(domain.name, domain.uuid);
    const lastExit = { reason: exit, action, atMs: this.now() };
    if (restarts(action)) {
      this.state.update(domain.id, { lastExit, restarts: memory.restarts + 1 });
      await this.create(domain, false);
    } else {
      this.disks.detach(domain.name);
      this.state.update(domain.id, {
        lastExit,
        heldGeneration: domain.generation,
        heldError: null,
      });
    }
  }

  private async create(domain: DesiredDomain, fresh = true): Promise<void> {
    try {
      const spec = await this.spec(domain);
      const guest = await this.driver.create(spec);
      this.log.info(`domain ${domain.name} started (id ${guest.domid})`);
      if (fresh)
        this.state.update(domain.id, {
          heldGeneration: null,
          heldError: null,
          appliedRebootSeq: domain.rebootSeq,
          preservedDomid: null,
        });
    } catch (error) {
      this.disks.detach(domain.name);
      this.state.update(domain.id, {
        heldGeneration: domain.generation,
        heldError: errorMessage(error),
      });
      throw error;
    }
  }

  private async destroy(domain: DesiredDomain): Promise<void> {
    await this.driver.destroy(domain.name, domain.uuid);
    this.disks.detach(domain.name);
    this.log.info(`domain ${domain.name} destroyed`);
  }

  /** The guest spec of a desired domain, its disks attached on this host (a migration's too). */
  guestSpec(domain: DesiredDomain): Promise<GuestSpec> {
    return this.spec(domain);
  }

  /** Releases the disks `guestSpec` attached. */
  detachDisks(domainName: string): void {
    this.disks.detach(domainName);
  }

  private async spec(domain: DesiredDomain): Promise<GuestSpec> {
    checkDesiredDomain(domain);
    const clash = (await this.driver.list()).find((g) => g.name === domain.name);
    if (clash) throw foreignGuest(clash);
    const disks = [];
    for (const disk of domain.disks) {
      disks.push({
        vdev: disk.vdev,
        readOnly: disk.readOnly,
        source: await this.disks.attach(domain.name, disk),
      });
    }
    return {
      name: domain.name,
      uuid: domain.uuid,
      memoryMiB: domain.memoryMiB,
      vcpus: domain.vcpus,
      boot: domain.boot,
      disks,
      vifs: domain.vifs,
      xlConfig: domain.config,
      allowUnsafe: domain.allowedUnsafe,
    };
  }

  private observe(domain: DesiredDomain, guest: GuestInfo | undefined): ObservedDomain {
    const memory = this.state.get(domain.id);
    const held = memory.heldGeneration === domain.generation;
    const failed = held && memory.heldError !== null;
    let applied: boolean;
    if (domain.desiredState === "stopped") applied = !guest;
    else if (held) applied = !failed;
    else if (!guest) applied = false;
    else if (guest.exit) applied = true;
    else applied = guest.state.paused === (domain.desiredState === "paused");
    const state: ObservedDomain["state"] = !guest
      ? "stopped"
      : guest.exit === "crash"
        ? "crashed"
        : guest.exit
          ? "shutdown"
          : guest.state.paused
            ? "paused"
            : "running";
    return {
      id: domain.id,
      state,
      domid: guest?.domid ?? null,
      flags: guest ? stateFlagsText(guest.state) : "------",
      memoryMiB: guest?.memoryMiB ?? domain.memoryMiB,
      vcpus: guest?.vcpus ?? domain.vcpus,
      cpuTimeS: guest?.cpuTimeS ?? 0,
      appliedGeneration: applied ? domain.generation : domain.generation - 1,
      appliedRebootSeq: memory.appliedRebootSeq,
      lastExit: memory.lastExit,
      restarts: memory.restarts,
      error: failed ? memory.heldError : null,
      atMs: this.now(),
    };
  }

  /** Guests this cluster did not start (Domain-0 too) count as other memory use. */
  private async inventory(
    guests: ReadonlyMap<string, GuestInfo>,
    domains: readonly DesiredDomain[],
  ): Promise<HypervisorInventory | undefined> {
    const ours = new Set(domains.map((d) => ownGuest(d, guests)).filter((g) => g !== undefined));
    if (this.now() - this.hostInfo.atMs >= HOST_INFO_MS || !this.hostInfo.value) {
      try {
        const info = await this.driver.hostInfo();
        this.hostInfo = {
          atMs: this.now(),
          value: {
            kind: info.kind,
            version: info.version,
            detail: info.detail,
            cpus: info.cpus,
            totalMemoryMiB: info.totalMemoryMiB,
            freeMemoryMiB: info.freeMemoryMiB,
            otherGuests: [],
          },
        };
      } catch (error) {
        this.log.warn(`hypervisor info: ${errorMessage(error)}`);
      }
    }
    const value = this.hostInfo.value;
    if (!value) return undefined;
    return {
      ...value,
      otherGuests: [...guests.values()]
        .filter((g) => !ours.has(g))
        .map(({ name, domid, memoryMiB, vcpus }) => ({ name, domid, memoryMiB, vcpus })),
    };
  }
}
