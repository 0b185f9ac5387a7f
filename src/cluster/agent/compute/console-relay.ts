/**
 * The agent's side of a guest console: for each session the controller lists, connect back to
 * the controller and join that connection to the guest's serial console (what it printed so
 * far, then live, both ways). A failure is told to the person at the other end.
 */
import type { Duplex } from "node:stream";
import { EtherplaneError, errorMessage } from "../../../foundation/errors.js";
import type { Logger } from "../../../foundation/log.js";
import type { HypervisorDriver } from "../../../hypervisor/driver.js";
import type { DesiredDomain } from "../../agent-protocol.js";

export const CONSOLE_RELAYS_MAX = 32;

export class ConsoleRelay {
  private readonly active = new Set<string>();

  constructor(
    private readonly driver: HypervisorDriver,
    private readonly connect: (sessionId: string) => Promise<Duplex>,
    private readonly log: Logger,
  ) {}

  /**
   * Relays the sessions listed. A session attaches only to one of this host's desired domains,
   * and only to the guest with that domain's uuid (never a same-named guest the cluster did
   * not start).
   */
  handle(
    sessions: ReadonlyArray<{ sessionId: string; domainName: string }>,
    domains: ReadonlyArray<Pick<DesiredDomain, "name" | "uuid">>,
  ): void {
    for (const session of sessions) {
      if (this.active.has(session.sessionId) || this.active.size >= CONSOLE_RELAYS_MAX) continue;
      this.active.add(session.sessionId);
      const uuid = domains.find((d) => d.name === session.domainName)?.uuid;
      this.relay(session.sessionId, session.domainName, uuid)
        .catch((error: unknown) =>
          this.log.warn(`console of ${session.domainName}: ${errorMessage(error)}`),
        )
        .finally(() => this.active.delete(session.sessionId));
    }
  }

  private async relay(
    sessionId: string,
    domainName: string,
    uuid: string | undefined,
  ): Promise<void> {
    const remote = await this.connect(sessionId);
    let guest;
    try {
      if (uuid === undefined)
        throw new EtherplaneError("NOT_FOUND", `${domainName} is not a domain of this host`);
      guest = await this.driver.console(domainName, uuid);
    } catch (error) {
      remote.end(
        `\r\netherplane: cannot attach to ${domainName}'s console: ${errorMessage(error)}\r\n`,
      );
      return;
    }
    const session = guest;
    this.log.info(`console of ${domainName} attached`, { sessionId });
    remote.write(session.history);
    session.stream.pipe(remote);
    remote.pipe(session.stream);
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      remote.once("close", done);
      remote.once("error", done);
      session.stream.once("close", done);
      session.stream.once("end", done);
      session.stream.once("error", done);
    });
    remote.unpipe(session.stream);
    session.stream.unpipe(remote);
    remote.end();
    await session.close();
    this.log.info(`console of ${domainName} detached`, { sessionId });
  }
}
