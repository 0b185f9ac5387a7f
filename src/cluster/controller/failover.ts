/**
 * High availability on the controller: a host whose lease expired (host-liveness.ts) is `dead`;
 * it is fenced at the storage (storage-fence.ts); each of its HA domains whose volumes' fence is
 * confirmed is restarted elsewhere (its frozen spec, the existing placement), by priority, with
 * attempts and back-off; once every storage agent confirmed, the host is `fenced`. A domain is
 * never started while its previous host is neither confirmed stopped nor fenced. A fenced host
 * whose agent renews again is taken back (`up`) once none of its HA domains waits to move; its
 * agent is told which guests now run elsewhere, and destroys them (DesiredState.evict).
 *
 * One sweep at a time; every step is idempotent, so a controller restart repeats what was under
 * way. What a restart must not forget (dead and fenced hosts, their fenced MACs, the guests a
 * returning host must destroy) is journaled in the store before each step acts (ha-journal.ts):
 * a restarted controller keeps a dead host untrusted and fenced from its first request, fences it
 * again at once and finishes its failover (domains already moved are no longer its own).
 */
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { Eviction } from "../agent-protocol.js";
import type { DomainRecord, HostRecord, HostState } from "../model.js";
import type { Store } from "../store/store.js";
import type { AgentService } from "./agent-service.js";
import { LATE_MS_CREDITED_MIN } from "./host-liveness.js";
import { decodeJournal, encodeJournal, HA_JOURNAL_KEY } from "./ha-journal.js";
import { byHaPriority, haEnabled } from "./ha-policy.js";
import type { PlacementService } from "./placement-service.js";
import {
  checkFence,
  fenceComplete,
  fenceHold,
  requestFence,
  type StorageFence,
} from "./storage-fence.js";
import type { TaskService } from "./task-service.js";
import type { VolumeGrants } from "./volume-grants.js";

/** Restart attempts of one domain before it is left stopped, reported. */
export const FAILOVER_ATTEMPTS_MAX = 8;
const BACKOFF_MS_FIRST = 1000;
const BACKOFF_MS_MAX = 30_000;
/** Guests a returning host is told to destroy, per host (a bound). */
const EVICTIONS_PER_HOST_MAX = 1000;
/** HA notes kept for `ha status` and tests (a bound). */
const NOTES_MAX = 1000;

interface HostPhase {
  kind: "dead" | "fenced";
  sinceMs: number;
  fence: StorageFence | undefined;
  /** Every MAC fenced for it (this process's fences and a previous process's, journaled). */
  macs: Set<string>;
}

interface Attempts {
  count: number;
  nextMs: number;
  lastError: string | null;
}

export interface HaNote {
  atMs: number;
  hostId: string;
  domainId: string | null;
  message: string;
}

function volumeIdsOf(domain: DomainRecord): string[] {
  const ids = domain.placed?.disks.map((d) => d.volumeId) ?? [];
  for (const disk of domain.disks) if (disk.volumeId !== null) ids.push(disk.volumeId);
  return [...new Set(ids)];
}

export class HaManager {
  private readonly phases = new Map<string, HostPhase>();
  private readonly attempts = new Map<string, Attempts>();
  private readonly held = new Map<string, string>();
  private readonly evictions = new Map<string, Eviction[]>();
  private readonly noteList: HaNote[] = [];
  private sweeping: Promise<void> | undefined;
  private lastSweepMs: number | undefined;
  /** The journal differs from memory: written before the next step acts (flush). */
  private dirty = false;
  private restoring: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly agents: AgentService,
    private readonly tasks: TaskService,
    private readonly grants: VolumeGrants,
    private readonly placement: PlacementService,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    agents.hostState = (hostId) => this.state(hostId);
    // A storage agent's report may confirm a fence: check at once rather than at the next tick
    // (a quarter of a second off every failover).
    agents.onReport((hostId) => {
      if (this.awaitsConfirmationFrom(hostId))
        this.sweep().catch((error: unknown) => this.log.warn(`sweep: ${errorMessage(error)}`));
    });
  }

  /** Whether a fence under way waits for `storageHostId` to apply a volume's generation. */
  private awaitsConfirmationFrom(storageHostId: string): boolean {
    for (const phase of this.phases.values()) {
      const fence = phase.fence;
      if (!fence || fenceComplete(fence)) continue;
      for (const [volumeId, volume] of fence.volumes)
        if (volume.storageHostId === storageHostId && !fence.confirmed.has(volumeId)) return true;
    }
    return false;
  }

  /** The host's state: dead or fenced while HA deals with it, else its lease's. */
  state(hostId: string): HostState {
    return this.phases.get(hostId)?.kind ?? this.agents.liveness.state(hostId);
  }

  /** What HA did and waits for, newest last. */
  notes(): readonly HaNote[] {
    return this.noteList;
  }

  /** Why a domain's restart waits (a fence not confirmed, no host fits), if it does. */
  heldReason(domainId: string): string | undefined {
    return this.held.get(domainId);
  }

  /** Guests `hostId` may still run whose domains now run elsewhere. */
  evictionsFor(hostId: string): Eviction[] {
    return this.evictions.get(hostId) ?? [];
  }

  /** Sweeps every `intervalMs` (the I/O edge calls this: start-controller.ts, up.ts). */
  start(intervalMs = 250): void {
    if (this.timer) return;
    let lastTickMs = this.now();
    this.timer = setInterval(() => {
      // A tick this late means the controller heard no renewal meanwhile: no lease ages for it.
      const nowMs = this.now();
      const lateMs = nowMs - lastTickMs - intervalMs;
      lastTickMs = nowMs;
      if (lateMs > LATE_MS_CREDITED_MIN) this.agents.liveness.credit(lateMs);
      this.sweep().catch((error: unknown) => this.log.warn(`sweep: ${errorMessage(error)}`));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /**
   * Reads the journal a previous controller process left (once; the I/O edge awaits it before
   * serving, and the first sweep does too): its dead and fenced hosts stay so, their MACs fenced.
   */
  restore(): Promise<void> {
    this.restoring ??= this.restoreNow();
    return this.restoring;
  }

  private async restoreNow(): Promise<void> {
    const stored = (await this.store.listSettings())[HA_JOURNAL_KEY];
    const { journal, problems } = decodeJournal(stored);
    for (const problem of problems)
      this.log.warn(
        `HA journal: ${problem}; dropped (such a host is declared dead again one lease after this start)`,
      );
    const hosts = new Map((await this.store.listHosts()).map((h) => [h.id, h.name]));
    for (const [hostId, entry] of journal.hosts) {
      if (!hosts.has(hostId) || this.phases.has(hostId)) continue;
      const macs = new Set(entry.macs);
      this.phases.set(hostId, { kind: entry.kind, sinceMs: entry.sinceMs, fence: undefined, macs });
      this.setFenced(macs, true);
      this.note(
        hostId,
        null,
        `host ${hosts.get(hostId)}: ${entry.kind} before the controller restarted; still untrusted, fencing it again`,
      );
    }
    for (const [hostId, list] of journal.evictions)
      if (hosts.has(hostId)) this.evictions.set(hostId, list);
    this.agents.watch.changed([...journal.hosts.keys(), ...journal.evictions.keys()]);
  }

  /** Writes the journal if memory changed since; throws (the step waits) when it cannot. */
  private async flush(): Promise<void> {
    if (!this.dirty) return;
    const hosts = new Map(
      [...this.phases].map(([id, p]) => [
        id,
        { kind: p.kind, sinceMs: p.sinceMs, macs: [...p.macs] },
      ]),
    );
    this.dirty = false;
    try {
      await this.store.setSetting(
        HA_JOURNAL_KEY,
        encodeJournal({ hosts, evictions: this.evictions }),
      );
    } catch (error) {
      this.dirty = true;
      throw error;
    }
  }

  /** One pass over every host; concurrent callers share the pass under way. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepNow().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepNow(): Promise<void> {
    await this.restore();
    const nowMs = this.now();
    const { suspectMs } = this.agents.liveness.settings;
    if (this.lastSweepMs !== undefined && nowMs - this.lastSweepMs > suspectMs) {
      this.log.warn(
        `the controller did not sweep for ${nowMs - this.lastSweepMs} ms (stalled); every lease restarts now rather than declaring hosts dead`,
      );
      this.agents.liveness.pardon();
    }
    this.lastSweepMs = nowMs;
    const hosts = await this.store.listHosts();
    const names = new Map(hosts.map((h) => [h.id, h.name]));
    await this.flush(); // what an earlier sweep could not write
    await this.declareDead(hosts);
    if (this.phases.size === 0) return;
    // Every step below is batched over the hosts: one journal write and one read of the domains
    // per sweep, not one per dead host (at 1,000 agents, hundreds of hosts declared dead at once
    // made each sweep write the whole journal hundreds of times: docs/benchmarks.md).
    const dead = hosts.filter((h) => this.phases.has(h.id));
    await this.requestFences(dead);
    const domainsOf = new Map<string, DomainRecord[]>();
    for (const domain of await this.store.listDomains()) {
      if (domain.hostId === null || !this.phases.has(domain.hostId)) continue;
      const list = domainsOf.get(domain.hostId) ?? [];
      list.push(domain);
      domainsOf.set(domain.hostId, list);
    }
    const readmitting: HostRecord[] = [];
    for (const host of dead) {
      try {
        if (await this.sweepHost(host, names, domainsOf.get(host.id) ?? [])) readmitting.push(host);
      } catch (error) {
        this.log.warn(`host ${host.name}: ${errorMessage(error)}; the next sweep retries`);
      }
    }
    // The hosts now fenced (a restart that forgot it fences them again: harmless).
    await this.flush();
    if (readmitting.length > 0) await this.readmit(readmitting);
  }

  /**
   * The hosts whose lease expired since the last sweep become dead, journaled in one write before
   * anyone hears of it: a restarted controller must know a host is dead before anything is fenced
   * or moved. Should the write fail, they are left as they were and the next sweep tries again.
   */
  private async declareDead(hosts: readonly HostRecord[]): Promise<void> {
    const dead: Array<{ host: HostRecord; last: number | undefined }> = [];
    for (const host of hosts) {
      if (this.phases.has(host.id) || this.agents.liveness.state(host.id) !== "dead") continue;
      const last = this.agents.liveness.lastRenewal(host.id);
      this.phases.set(host.id, {
        kind: "dead",
        sinceMs: this.now(),
        fence: undefined,
        macs: new Set(),
      });
      dead.push({ host, last });
    }
    if (dead.length === 0) return;
    this.dirty = true;
    try {
      await this.flush();
    } catch (error) {
      for (const { host } of dead) this.phases.delete(host.id);
      this.log.warn(
        `${dead.length} hosts' leases expired but the HA journal could not be written: ${errorMessage(error)}; the next sweep retries`,
      );
      return;
    }
    // Their desired states lose their domains (should their agents still listen, they stop them).
    this.agents.watch.changed(dead.map(({ host }) => host.id));
    for (const { host, last } of dead)
      this.note(
        host.id,
        null,
        `host ${host.name}: lease lost (${last === undefined ? "no renewal since the controller started" : `last renewal ${this.now() - last} ms ago`}); fencing it at the storage`,
      );
  }

  /**
   * Fences the dead hosts not fenced yet at the storage; their MACs are journaled in one write
   * before any of their domains moves (a restarted controller keeps them fenced).
   */
  private async requestFences(hosts: readonly HostRecord[]): Promise<void> {
    const requested: Array<{ host: HostRecord; fence: StorageFence }> = [];
    for (const host of hosts) {
      const phase = this.phases.get(host.id);
      if (!phase || phase.fence) continue;
      try {
        const macsBefore = phase.macs.size;
        phase.fence = await requestFence(
          this.store,
          host,
          (macs) => {
            this.setFenced(macs, true);
            for (const mac of macs) phase.macs.add(mac);
          },
          this.now(),
        );
        if (phase.macs.size !== macsBefore) this.dirty = true;
        requested.push({ host, fence: phase.fence });
      } catch (error) {
        this.log.warn(`host ${host.name}: ${errorMessage(error)}; the next sweep retries`);
      }
    }
    if (requested.length === 0) return;
    await this.flush();
    for (const { host, fence } of requested) {
      const storageHosts = new Set([...fence.volumes.values()].map((v) => v.storageHostId));
      this.note(
        host.id,
        null,
        `host ${host.name}: fence requested on ${fence.volumes.size} volumes of ${storageHosts.size} storage hosts (MACs ${[...fence.macs].join(",") || "none known"})`,
      );
    }
  }

  /** One dead or fenced host's next steps; true when it may be taken back (it renews again). */
  private async sweepHost(
    host: HostRecord,
    names: ReadonlyMap<string, string>,
    domains: readonly DomainRecord[],
  ): Promise<boolean> {
    const phase = this.phases.get(host.id);
    if (!phase) return false;
    const lease = this.agents.liveness.state(host.id);
    if (!phase.fence) return false; // its fence request failed: the next sweep retries it
    const fence = phase.fence;
    for (const storageHostId of await checkFence(this.store, fence))
      this.note(
        host.id,
        null,
        `host ${host.name}: fence confirmed by storage host ${names.get(storageHostId) ?? storageHostId}`,
      );
    if (phase.kind === "dead" && fenceComplete(fence)) {
      phase.kind = "fenced";
      this.dirty = true;
      this.note(
        host.id,
        null,
        `host ${host.name}: fenced (${fence.volumes.size} volumes confirmed in ${this.now() - fence.requestedMs} ms)`,
      );
    }
    const waiting = await this.failover(host, fence, domains, (id) => names.get(id) ?? id);
    return phase.kind === "fenced" && lease === "up" && waiting === 0;
  }

  /** Restarts the host's HA domains that may restart; returns how many still wait. */
  private async failover(
    host: HostRecord,
    fence: StorageFence,
    hostDomains: readonly DomainRecord[],
    nameOf: (id: string) => string,
  ): Promise<number> {
    const domains = hostDomains
      .filter((d) => d.desiredState !== "stopped" && d.placed !== null && haEnabled(d))
      .sort(byHaPriority);
    let waiting = 0;
    for (const domain of domains) {
      const hold = fenceHold(fence, volumeIdsOf(domain), nameOf);
      if (hold) {
        waiting++;
        this.hold(host, domain, hold);
        continue;
      }
      const tries = this.attempts.get(domain.id) ?? { count: 0, nextMs: 0, lastError: null };
      if (tries.count >= FAILOVER_ATTEMPTS_MAX) continue; // reported once, below
      if (this.now() < tries.nextMs) {
        waiting++;
        continue;
      }
      try {
        await this.restartElsewhere(domain, host);
        this.attempts.delete(domain.id);
        this.held.delete(domain.id);
      } catch (error) {
        tries.count++;
        tries.lastError = errorMessage(error);
        tries.nextMs =
          this.now() + Math.min(BACKOFF_MS_MAX, BACKOFF_MS_FIRST * 2 ** (tries.count - 1));
        this.attempts.set(domain.id, tries);
        const last = tries.count >= FAILOVER_ATTEMPTS_MAX;
        this.hold(
          host,
          domain,
          `restart attempt ${tries.count} of ${FAILOVER_ATTEMPTS_MAX} failed: ${tries.lastError}` +
            (last ? `; given up: etherplane start ${domain.name} once a host can run it` : ""),
        );
        if (!last) waiting++;
      }
    }
    return waiting;
  }

  private hold(host: HostRecord, domain: DomainRecord, reason: string): void {
    if (this.held.get(domain.id) === reason) return;
    this.held.set(domain.id, reason);
    this.note(host.id, domain.id, `domain ${domain.name}: restart held: ${reason}`);
  }

  /** The domain's frozen spec on another `up` host: grant, then hand it over (a new generation). */
  private async restartElsewhere(domain: DomainRecord, dead: HostRecord): Promise<void> {
    // Placement's every rule (capacity, overcommit, anti-affinity, pinning, maintenance, `up`
    // hosts only), the dead host left out by name.
    const exclude = new Map([[dead.id, `host ${dead.name} died`]]);
    const { host: target } = await this.placement.choose(domain, undefined, { exclude });
    await this.grants.grant(domain, target);
    const running = await this.tasks.runningFor(domain.id);
    if (running)
      await this.tasks.fail(
        running.id,
        "UNAVAILABLE",
        `${running.message}: host ${dead.name} died`,
      );
    await this.tasks.start(
      "domain.failover",
      domain.id,
      "ha",
      `restarting ${domain.name} on ${target.name}: host ${dead.name} is fenced`,
    );
    // Journaled before the move (write-ahead): a restarted controller still tells the dead host
    // to destroy this guest. Harmless should the move not happen: a host is never told to evict
    // a domain its desired state keeps (agent-service.ts).
    const back = this.evictions.get(target.id);
    if (back)
      this.evictions.set(
        target.id,
        back.filter((e) => e.id !== domain.id),
      );
    const list = (this.evictions.get(dead.id) ?? []).filter((e) => e.id !== domain.id);
    if (list.length < EVICTIONS_PER_HOST_MAX && domain.placed)
      list.push({ id: domain.id, name: domain.placed.name, uuid: domain.placed.uuid });
    this.evictions.set(dead.id, list);
    this.dirty = true;
    await this.flush();
    // Observations of the dead host's guest say nothing about the new one.
    await this.store.observeDomain(domain.id, null);
    await this.store.updateDomain(domain.id, { hostId: target.id }, domain.generation);
    this.note(dead.id, domain.id, `domain ${domain.name}: placed on ${target.name}`);
  }

  /**
   * The hosts renew again and none of their HA domains waits: they are served and placed again,
   * journaled in one write for all of them.
   */
  private async readmit(hosts: readonly HostRecord[]): Promise<void> {
    const phases = new Map<string, HostPhase>();
    for (const host of hosts) {
      const phase = this.phases.get(host.id);
      if (phase) phases.set(host.id, phase);
      this.phases.delete(host.id);
    }
    this.dirty = true;
    try {
      await this.flush();
    } catch (error) {
      for (const [id, phase] of phases) this.phases.set(id, phase); // still fenced; retried next sweep
      this.log.warn(
        `taking back ${hosts.length} hosts: ${errorMessage(error)}; the next sweep retries`,
      );
      return;
    }
    this.agents.watch.changed(hosts.map((h) => h.id)); // trusted again: their domains come back
    const macs = new Set<string>();
    for (const phase of phases.values()) {
      this.setFenced(phase.macs, false);
      for (const mac of phase.macs) macs.add(mac);
    }
    // Volumes an admin allowed these MACs on are served to them again: a new generation.
    if (macs.size > 0)
      for (const volume of await this.store.listVolumes())
        if (volume.allow.some((mac) => macs.has(mac.toLowerCase())))
          await this.store.updateVolume(volume.id, {}).catch((error: unknown) => {
            this.log.warn(`volume ${volume.name}: ${errorMessage(error)}`);
          });
    for (const host of hosts)
      this.note(
        host.id,
        null,
        `host ${host.name}: renews its lease again; up (guests of domains moved away are destroyed by its agent)`,
      );
  }

  private setFenced(macs: ReadonlySet<string>, fenced: boolean): void {
    const next = new Set(this.agents.fencedMacs);
    for (const mac of macs) {
      if (fenced) next.add(mac);
      else next.delete(mac);
    }
    // No wake-up of its own: the volumes these MACs reach get a new generation (requestFence,
    // readmit), and that write wakes their storage agents. Waking every agent here would make
    // each death cost every long-poll a desired-state computation.
    this.agents.fencedMacs = next;
  }

  /** Told of every step (the controller records each as an event, `etherplane events`). */
  onNote: (note: HaNote) => void = () => undefined;

  private note(hostId: string, domainId: string | null, message: string): void {
    this.log.info(message);
    const note = { atMs: this.now(), hostId, domainId, message };
    this.noteList.push(note);
    this.onNote(note);
    if (this.noteList.length > NOTES_MAX) this.noteList.splice(0, this.noteList.length - NOTES_MAX);
  }
}
