/**
 * Guest consoles through the controller. Agents never listen: a console is a session the
 * controller opens for a client (`etherplane console NAME`), hands to the domain's host in its
 * desired state, and pairs with the connection the agent makes back to the controller. Bytes then
 * flow both ways untouched until either side closes. Bounded: sessions, and the wait for the
 * agent.
 */
import type { Duplex } from "node:stream";
import { EtherplaneError } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";

export const CONSOLE_SESSIONS_MAX = 64;
export const CONSOLE_AGENT_WAIT_MS = 15_000;

interface Session {
  id: string;
  hostId: string;
  domainName: string;
  client: Duplex;
  timer: NodeJS.Timeout;
  agent: Duplex | null;
}

export class ConsoleBroker {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly agentWaitMs = CONSOLE_AGENT_WAIT_MS) {}

  /** Opens a session for `client`; the agent of `hostId` is asked to connect back. */
  open(hostId: string, domainName: string, client: Duplex): string {
    if (this.sessions.size >= CONSOLE_SESSIONS_MAX)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `${CONSOLE_SESSIONS_MAX} consoles are open already; close one and retry`,
      );
    const id = newId("con");
    const timer = setTimeout(() => {
      const session = this.sessions.get(id);
      if (!session || session.agent) return;
      this.sessions.delete(id);
      client.end(
        `\r\netherplane: the agent of ${domainName}'s host did not connect within ${this.agentWaitMs / 1000} s; is it running? (etherplane host list)\r\n`,
      );
    }, this.agentWaitMs);
    timer.unref();
    this.sessions.set(id, { id, hostId, domainName, client, timer, agent: null });
    client.once("close", () => this.close(id));
    client.once("error", () => this.close(id));
    return id;
  }

  /** The sessions waiting for `hostId`'s agent. */
  pending(hostId: string): Array<{ sessionId: string; domainName: string }> {
    return [...this.sessions.values()]
      .filter((s) => s.hostId === hostId && s.agent === null)
      .map((s) => ({ sessionId: s.id, domainName: s.domainName }));
  }

  /** The agent's connection for a session: from now on the two streams are piped together. */
  attach(sessionId: string, hostId: string, agent: Duplex): void {
    const session = this.sessions.get(sessionId);
    if (!session || session.hostId !== hostId || session.agent !== null)
      throw new EtherplaneError("NOT_FOUND", `no console session ${sessionId} waits for this host`);
    clearTimeout(session.timer);
    session.agent = agent;
    agent.once("close", () => this.close(sessionId));
    agent.once("error", () => this.close(sessionId));
    session.client.pipe(agent);
    agent.pipe(session.client);
  }

  /** Ends a session (either side went away). */
  close(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.sessions.delete(sessionId);
    clearTimeout(session.timer);
    session.client.end();
    session.agent?.end();
  }

  closeAll(): void {
    for (const id of [...this.sessions.keys()]) this.close(id);
  }
}
