/**
 * Guest consoles through the controller. Agents never listen: a console is a session the
 * controller opens for a client (`etherplane console NAME`), hands to the domain's host in its
 * desired state, and pairs with the connection the agent makes back to the controller. Bytes then
 * flow both ways untouched until either side closes. Bounded: sessions in all and per token, the
 * wait for the agent, and the time a session may stay idle.
 */
import type { Duplex } from "node:stream";
import { EtherplaneError } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";

export interface ConsoleLimits {
  /** Sessions open at once, in all. */
  sessionsMax: number;
  /** Sessions open at once for one token (one user). */
  sessionsPerOwnerMax: number;
  /** How long a new session waits for the agent to connect back. */
  agentWaitMs: number;
  /** A session with no byte either way for this long ends. */
  idleMs: number;
}

/** Bounds of `agentWaitMs` (`controller --console-agent-wait-ms`: slow hosts, e.g. nested Xen). */
export const CONSOLE_AGENT_WAIT_MS_MIN = 1000;
export const CONSOLE_AGENT_WAIT_MS_MAX = 600_000;

export const CONSOLE_LIMITS_DEFAULT: ConsoleLimits = {
  sessionsMax: 64,
  sessionsPerOwnerMax: 4,
  agentWaitMs: 15_000,
  idleMs: 30 * 60_000,
};

/** Timers and the clock, passed in so that tests can move time themselves. */
export interface ConsoleClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout;
  clearTimeout(timer: NodeJS.Timeout): void;
}

const realClock: ConsoleClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer),
};

interface Session {
  id: string;
  hostId: string;
  domainName: string;
  /** The token that opened it (a principal's tokenId). */
  owner: string;
  client: Duplex;
  timer: NodeJS.Timeout;
  agent: Duplex | null;
  lastActivityMs: number;
}

export class ConsoleBroker {
  private readonly sessions = new Map<string, Session>();
  /** Called when a session opens: the host's agent learns of it through its desired state. */
  onOpen: (hostId: string) => void = () => undefined;

  constructor(
    private readonly limits: ConsoleLimits = CONSOLE_LIMITS_DEFAULT,
    private readonly clock: ConsoleClock = realClock,
  ) {}

  /** Opens a session of `owner` for `client`; the agent of `hostId` is asked to connect back. */
  open(hostId: string, domainName: string, client: Duplex, owner: string): string {
    if (this.sessions.size >= this.limits.sessionsMax)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `${this.limits.sessionsMax} consoles are open already; close one and retry`,
      );
    const owned = [...this.sessions.values()].filter((s) => s.owner === owner).length;
    if (owned >= this.limits.sessionsPerOwnerMax)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `this token has ${owned} consoles open already (at most ${this.limits.sessionsPerOwnerMax}); ` +
          "leave one (^]) and retry",
      );
    const id = newId("con");
    const timer = this.clock.setTimeout(() => {
      const session = this.sessions.get(id);
      if (!session || session.agent) return;
      this.end(
        id,
        `the agent of ${domainName}'s host did not connect within ${this.limits.agentWaitMs / 1000} s; is it running? (etherplane host list)`,
      );
    }, this.limits.agentWaitMs);
    this.sessions.set(id, {
      id,
      hostId,
      domainName,
      owner,
      client,
      timer,
      agent: null,
      lastActivityMs: this.clock.now(),
    });
    // "end" too: an HTTP server's sockets allow half-open connections, so a client that leaves
    // is not "close"d until this side ends as well, and would hold its slot.
    client.once("end", () => this.close(id));
    client.once("close", () => this.close(id));
    client.once("error", () => this.close(id));
    this.onOpen(hostId);
    return id;
  }

  /** The sessions waiting for `hostId`'s agent. */
  pending(hostId: string): Array<{ sessionId: string; domainName: string }> {
    return [...this.sessions.values()]
      .filter((s) => s.hostId === hostId && s.agent === null)
      .map((s) => ({ sessionId: s.id, domainName: s.domainName }));
  }

  /** How many sessions are open (all, or `owner`'s). */
  count(owner?: string): number {
    if (owner === undefined) return this.sessions.size;
    return [...this.sessions.values()].filter((s) => s.owner === owner).length;
  }

  /** The agent's connection for a session: from now on the two streams are piped together. */
  attach(sessionId: string, hostId: string, agent: Duplex): void {
    const session = this.sessions.get(sessionId);
    if (!session || session.hostId !== hostId || session.agent !== null)
      throw new EtherplaneError("NOT_FOUND", `no console session ${sessionId} waits for this host`);
    this.clock.clearTimeout(session.timer);
    session.agent = agent;
    session.lastActivityMs = this.clock.now();
    agent.once("close", () => this.close(sessionId));
    agent.once("error", () => this.close(sessionId));
    // A 'data' listener beside pipe() sees the same chunks: it only notes the time.
    const touch = () => (session.lastActivityMs = this.clock.now());
    session.client.on("data", touch);
    agent.on("data", touch);
    session.client.pipe(agent);
    agent.pipe(session.client);
    this.watchIdle(session, this.limits.idleMs);
  }

  /** Ends a session (either side went away). */
  close(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.sessions.delete(sessionId);
    this.clock.clearTimeout(session.timer);
    session.client.end();
    session.agent?.end();
  }

  closeAll(): void {
    for (const id of [...this.sessions.keys()]) this.close(id);
  }

  /** One timer per session, re-armed for the time left rather than reset on every chunk. */
  private watchIdle(session: Session, ms: number): void {
    session.timer = this.clock.setTimeout(() => {
      if (this.sessions.get(session.id) !== session) return;
      const idleMs = this.clock.now() - session.lastActivityMs;
      if (idleMs < this.limits.idleMs) return this.watchIdle(session, this.limits.idleMs - idleMs);
      this.end(
        session.id,
        `console of ${session.domainName} idle for ${Math.round(this.limits.idleMs / 1000)} s; closed (etherplane console ${session.domainName} attaches again)`,
      );
    }, ms);
  }

  /** Tells the client why, then closes. */
  private end(sessionId: string, why: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    session.agent?.unpipe(session.client);
    session.client.write(`\r\netherplane: ${why}\r\n`);
    this.close(sessionId);
  }
}
