/**
 * The agent's side of its lease: a renewal every `renewMs` (the controller's answer sets it), and
 * self-fencing. The time since the last renewal that succeeded is counted from when the agent
 * SENT it (earlier than the controller received it), so the agent's deadline always falls before
 * the controller's. Past `selfFenceMs` without one, or when the controller answers that this host
 * is dead or fenced, `onLost` runs (the agent destroys its HA domains) before the controller may
 * restart them elsewhere. Renewed again and told `up`, `onRegained` runs.
 *
 * Optional: a watchdog (e.g. /dev/watchdog from softdog) is fed after each successful renewal, so
 * a hung agent or host reboots when the kernel's timeout passes (watchdog.ts).
 */
import type { Clock, Timer } from "../../foundation/clock.js";
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import {
  LEASE_DEAD_MS_MAX,
  LEASE_DEFAULT,
  LEASE_RENEW_MS_MIN,
  selfFenceMs,
  type LeaseGrant,
} from "../controller/host-liveness.js";

/** The controller's lease timing, as its answers give it (what a restarted agent remembers). */
export type LeaseTimes = Pick<LeaseGrant, "renewMs" | "deadMs" | "selfFenceMs">;

/** Until the controller's first answer: its defaults (host-liveness.ts LEASE_DEFAULT). */
const TIMES_DEFAULT: LeaseTimes = {
  renewMs: LEASE_DEFAULT.renewMs,
  deadMs: LEASE_DEFAULT.deadMs,
  selfFenceMs: selfFenceMs(LEASE_DEFAULT),
};

/** Whether `times` could come from a controller (host-liveness.ts bounds); `undefined` if not. */
export function checkedLeaseTimes(times: unknown): LeaseTimes | undefined {
  if (typeof times !== "object" || times === null) return undefined;
  const { renewMs, deadMs, selfFenceMs: fenceMs } = times as Record<string, unknown>;
  const whole = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
  if (!whole(renewMs) || !whole(deadMs) || !whole(fenceMs)) return undefined;
  if (renewMs < LEASE_RENEW_MS_MIN || deadMs > LEASE_DEAD_MS_MAX) return undefined;
  if (fenceMs >= deadMs || renewMs >= deadMs) return undefined;
  return { renewMs, deadMs, selfFenceMs: fenceMs };
}
const CHECK_MS = 100;

export interface LeaseEvents {
  /** The lease is lost (or the controller says dead/fenced): keep HA guests down. */
  onLost(reason: string): void;
  /** Renewed, and the controller says up (or suspect) again. */
  onRegained(): void;
  /** A renewal succeeded (a watchdog is fed here). */
  onRenewed?(): void;
  /** The controller's lease timing differs from what the agent had (start-agent.ts saves it). */
  onTimes?(times: LeaseTimes): void;
}

export class LeaseHolder {
  private grant: LeaseGrant;
  private lastRenewedSentMs: number;
  private lostValue = false;
  private renewTimer: Timer | undefined;
  private checkTimer: Timer | undefined;
  private running = false;
  private lastCheckMs: number | undefined;
  private renewing = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly renew: () => Promise<LeaseGrant>,
    private readonly events: LeaseEvents,
    private readonly clock: Clock,
    private readonly log: Logger,
    /**
     * The timing of the controller's last answer before this agent (re)started, if known: a
     * restarted agent's grace before its first renewal is then the controller's self-fence time
     * (a controller with long leases does not have a restarted agent destroy its HA guests after
     * the default 2 s), otherwise the defaults'.
     */
    before: LeaseTimes = TIMES_DEFAULT,
  ) {
    this.grant = { ...(checkedLeaseTimes(before) ?? TIMES_DEFAULT), state: "up" };
    // A new agent has a lease period's grace: it is not lost before it could try.
    this.lastRenewedSentMs = clock.nowMs();
  }

  /** Whether HA guests must stay down (lease lost, or the controller said dead/fenced). */
  get lost(): boolean {
    return this.lostValue;
  }

  get settings(): LeaseGrant {
    return this.grant;
  }

  /**
   * Renews now, or after `firstDelayMs` (agent.ts spreads the first renewals of agents started
   * together: each keeps its phase from then on). The self-fence check runs from now; the grace
   * it gives a new agent (selfFenceMs) is longer than any such delay (at most a renewal).
   */
  start(firstDelayMs = 0): void {
    if (this.running) return;
    this.running = true;
    this.checkTimer = this.clock.setInterval(() => this.check(), CHECK_MS, { keepAlive: false });
    if (firstDelayMs > 0)
      this.renewTimer = this.clock.setTimeout(
        () => this.tick(),
        Math.min(firstDelayMs, this.grant.renewMs),
      );
    else this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.renewTimer?.cancel();
    this.checkTimer?.cancel();
    await this.inFlight;
  }

  private tick(): void {
    if (!this.running) return;
    this.inFlight = this.once().finally(() => {
      if (this.running)
        this.renewTimer = this.clock.setTimeout(() => this.tick(), this.grant.renewMs);
    });
  }

  /** One renewal. */
  async once(): Promise<void> {
    const sentMs = this.clock.nowMs();
    let grant: LeaseGrant;
    this.renewing = true;
    try {
      grant = await this.renew();
    } catch (error) {
      this.log.debug(`lease renewal failed: ${errorMessage(error)}`);
      this.check();
      return;
    } finally {
      this.renewing = false;
    }
    const before = this.grant;
    this.grant = grant;
    if (
      before.renewMs !== grant.renewMs ||
      before.deadMs !== grant.deadMs ||
      before.selfFenceMs !== grant.selfFenceMs
    ) {
      const { renewMs, deadMs, selfFenceMs: fenceMs } = grant;
      this.events.onTimes?.({ renewMs, deadMs, selfFenceMs: fenceMs });
    }
    this.lastRenewedSentMs = Math.max(this.lastRenewedSentMs, sentMs);
    this.events.onRenewed?.();
    if (grant.state === "dead" || grant.state === "fenced") {
      this.lose(`the controller declared this host ${grant.state}`);
      return;
    }
    if (this.lostValue) {
      this.lostValue = false;
      this.log.info("lease renewed: the controller sees this host up again");
      this.events.onRegained();
    }
  }

  /**
   * Self-fences when the last renewal is too old. A check that comes late (this process was
   * stalled: a paused agent, an overloaded `up`) asks the controller first: if the host was
   * declared dead meanwhile, the answer says so and the guests go; if the controller is
   * unreachable, the next check, on time, fences.
   */
  check(): void {
    const nowMs = this.clock.nowMs();
    const lateMs = nowMs - (this.lastCheckMs ?? nowMs) - CHECK_MS;
    this.lastCheckMs = nowMs;
    if (lateMs > this.grant.renewMs && this.running) {
      this.log.warn(
        `this agent was stalled for ${Math.round(lateMs)} ms; renewing before anything else`,
      );
      // One renewal period for the answer (the storage fence holds meanwhile if it came).
      this.lastRenewedSentMs = Math.max(
        this.lastRenewedSentMs,
        nowMs - this.grant.selfFenceMs + this.grant.renewMs,
      );
      if (!this.renewing) {
        this.renewTimer?.cancel();
        this.tick();
      }
      return;
    }
    const ageMs = nowMs - this.lastRenewedSentMs;
    if (ageMs > this.grant.selfFenceMs)
      this.lose(
        `no lease renewal for ${Math.round(ageMs)} ms (the controller declares this host dead after ${this.grant.deadMs} ms)`,
      );
  }

  private lose(reason: string): void {
    if (this.lostValue) return;
    this.lostValue = true;
    this.log.warn(`self-fencing: ${reason}; destroying this host's HA domains`);
    this.events.onLost(reason);
  }
}
