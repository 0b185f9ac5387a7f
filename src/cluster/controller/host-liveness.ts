/**
 * Host liveness: every agent renews a lease with the controller (POST /api/v1/agent/lease, a few
 * bytes, kept in memory: no store write). A renewal that is late makes the host `suspect`; a lease
 * that expired makes it `dead`, which starts fencing (failover.ts). Pure over an injected clock.
 *
 * A controller that (re)starts knows no renewal yet: every host gets one lease period from the
 * moment the controller can hear it (`pardon()` when the API starts serving: start-controller.ts)
 * before it can be declared dead, so a restart never kills the hosts that were renewing with the
 * previous controller. A host that registers later gets one lease period from its registration
 * (`begin()`), not from the controller's start: an agent that joins after the controller has run
 * for longer than a lease must get the time to send its first renewal (before, a sweep between
 * the join and that renewal declared it dead at once).
 */
import { EtherplaneError } from "../../foundation/errors.js";

export interface LeaseSettings {
  /** How often an agent renews. */
  renewMs: number;
  /** A host whose last renewal is older than this is suspect. */
  suspectMs: number;
  /** ... and dead (fenced, its HA domains restarted elsewhere) past this. */
  deadMs: number;
}

/**
 * Renew every second; suspect after 2.5 s, dead (failover starts) 4 s after the last renewal:
 * three renewals may be lost or late before a host dies, and a failover takes about 4.5 s on a
 * quiet LAN (docs/benchmarks.md, bench:ha). The agent self-fences 2 s after its last renewal.
 */
export const LEASE_DEFAULT: LeaseSettings = { renewMs: 1000, suspectMs: 2500, deadMs: 4000 };

export const LEASE_RENEW_MS_MIN = 100;
export const LEASE_DEAD_MS_MAX = 600_000;

/** Checks the settings' bounds; the message names the flag and the fix. */
export function checkLeaseSettings(settings: LeaseSettings): LeaseSettings {
  const { renewMs, suspectMs, deadMs } = settings;
  const whole = (n: number) => Number.isInteger(n) && n > 0;
  if (!whole(renewMs) || renewMs < LEASE_RENEW_MS_MIN)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `--lease-renew-ms: ${renewMs} must be a whole number of milliseconds, at least ${LEASE_RENEW_MS_MIN}`,
    );
  if (!whole(deadMs) || deadMs > LEASE_DEAD_MS_MAX || deadMs < 3 * renewMs)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `--lease-dead-ms: ${deadMs} must be at least 3 renewals (${3 * renewMs} ms) and at most ${LEASE_DEAD_MS_MAX} ms, so that one lost renewal never kills a host`,
    );
  if (!whole(suspectMs) || suspectMs <= renewMs || suspectMs >= deadMs)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `--lease-suspect-ms: ${suspectMs} must lie between the renewal (${renewMs} ms) and the dead timeout (${deadMs} ms)`,
    );
  return settings;
}

/**
 * How long after its last renewal (counted from when it sent it, which is before the controller
 * received it) an agent destroys its HA domains: two renewals before the controller's dead
 * timeout, so the guests are gone before the controller may restart them anywhere else.
 */
export function selfFenceMs(settings: LeaseSettings): number {
  return Math.max(settings.renewMs * 2, settings.deadMs - 2 * settings.renewMs);
}

export type LeaseState = "up" | "suspect" | "dead";

/** What a renewal answers: the settings, so that the agent self-fences in time. */
export interface LeaseGrant {
  renewMs: number;
  deadMs: number;
  selfFenceMs: number;
  /** The host's state before this renewal; an agent told dead or fenced keeps its HA guests down. */
  state: string;
}

/** At most this many hosts are tracked (a bound, far above any real cluster). */
export const LEASES_MAX = 100_000;

/**
 * A late sweep tick (host-liveness is swept every 250 ms: failover.ts) by more than this is
 * credited to every lease (`credit`): below it, a busy event loop still reads renewals in time.
 */
export const LATE_MS_CREDITED_MIN = 50;

/**
 * A host's first lease after the controller starts serving (or after the host registers) lasts
 * this many lease periods, and so does every lease during the controller's warm-up (this many
 * lease periods after it starts serving, or after a stall: `pardon`): 1,000 agents reconnecting
 * at once queue their first requests behind one another for seconds, and their second and third
 * renewals behind the others' first reports (docs/benchmarks.md); none of them is dead for that.
 * The price: a host that dies while the controller was down, or in its first 12 s of serving
 * (default leases), is declared dead up to 12 s after the serving start.
 */
export const FIRST_LEASE_PERIODS = 3;

export class HostLiveness {
  /** When each host last renewed (wall clock, for what users see). */
  private readonly lastRenewalMs = new Map<string, number>();
  /**
   * Where each host's lease counts from, on the "heard" clock: the controller's clock less the
   * time it could not hear renewals (`credit`). Leases age only while the controller listens.
   */
  private readonly leaseFromMs = new Map<string, number>();
  /** Hosts registered since the start, without a renewal yet: when their first lease began. */
  private readonly beganMs = new Map<string, number>();
  private startedMs: number;
  /** Until then (on the "heard" clock) every lease lasts FIRST_LEASE_PERIODS: the warm-up. */
  private warmUntilMs = -Infinity;
  /** The time credited so far (`heardNow` = now less this). */
  private deafMs = 0;

  constructor(
    readonly settings: LeaseSettings,
    private readonly now: () => number,
  ) {
    checkLeaseSettings(settings);
    this.startedMs = now();
  }

  private heardNow(): number {
    return this.now() - this.deafMs;
  }

  renew(hostId: string): void {
    if (!this.lastRenewalMs.has(hostId) && this.lastRenewalMs.size >= LEASES_MAX)
      throw new EtherplaneError("UNAVAILABLE", `more than ${LEASES_MAX} hosts hold leases`);
    this.lastRenewalMs.set(hostId, this.now());
    this.leaseFromMs.set(hostId, this.heardNow());
    this.beganMs.delete(hostId);
  }

  /**
   * A host registered (joined) just now: its first lease counts from here. Not a renewal (its
   * agent has not said it holds a lease, and `lastRenewal` stays undefined); a host that renewed
   * already keeps its lease.
   */
  begin(hostId: string): void {
    if (this.lastRenewalMs.has(hostId)) return;
    if (!this.beganMs.has(hostId) && this.beganMs.size >= LEASES_MAX)
      throw new EtherplaneError("UNAVAILABLE", `more than ${LEASES_MAX} hosts hold leases`);
    this.beganMs.set(hostId, this.heardNow());
  }

  /** When the host last renewed, or undefined since this controller started. */
  lastRenewal(hostId: string): number | undefined {
    return this.lastRenewalMs.get(hostId);
  }

  state(hostId: string): LeaseState {
    const renewedFromMs = this.leaseFromMs.get(hostId);
    const fromMs = renewedFromMs ?? Math.max(this.startedMs, this.beganMs.get(hostId) ?? 0);
    // A host not heard from yet since this controller serves (it started, or the host just
    // joined), and every host in the warm-up, has FIRST_LEASE_PERIODS leases: every agent
    // reconnecting at once to a controller that just started waits behind the others' first
    // requests (docs/benchmarks.md).
    const heardMs = this.heardNow();
    const warm = heardMs < this.warmUntilMs;
    const periods = renewedFromMs === undefined || warm ? FIRST_LEASE_PERIODS : 1;
    const ageMs = heardMs - fromMs;
    if (ageMs > periods * this.settings.deadMs) return "dead";
    if (ageMs > periods * this.settings.suspectMs) return "suspect";
    return "up";
  }

  /**
   * The controller could not hear renewals for `lateMs` (its event loop was busy or the process
   * was not scheduled: a sweep tick came that late). No lease ages for that time: the renewals
   * sent meanwhile wait, unread, in its sockets, and the event loop runs the sweep's timer before
   * it reads them (libuv: timers, then poll). Without this, a loaded controller declared hosts
   * dead whose renewals it had not read yet (docs/benchmarks.md). Only makes deaths later, never
   * earlier: the agents' self-fencing (counted from their own renewals) stays ahead.
   */
  credit(lateMs: number): void {
    if (Number.isFinite(lateMs) && lateMs > 0) this.deafMs += lateMs;
  }

  /**
   * Every lease restarts now. For when the controller could not hear renewals: it stalled (its
   * sweeps stopped for longer than a lease: a blocked event loop, a paused process, renewals
   * waiting in its queue), or it starts serving only now (its API listens after the store, the
   * journal and the routes are ready: a lease counted from before would be spent unheard).
   * Starts the warm-up: for FIRST_LEASE_PERIODS lease periods, every lease lasts that many.
   */
  pardon(): void {
    const heardMs = this.heardNow();
    this.startedMs = heardMs;
    this.warmUntilMs = heardMs + FIRST_LEASE_PERIODS * this.settings.deadMs;
    for (const hostId of this.leaseFromMs.keys()) this.leaseFromMs.set(hostId, heardMs);
    this.beganMs.clear();
  }

  forget(hostId: string): void {
    this.lastRenewalMs.delete(hostId);
    this.leaseFromMs.delete(hostId);
    this.beganMs.delete(hostId);
  }
}
