/**
 * The agent's side of a guest console: for each session the controller lists, connect back to
 * the controller and join that connection to the guest's serial console (what it printed so
 * far, then live, both ways). A failure is told to the person at the other end.
 */
import type { Duplex } from "node:stream";
import { errorMessage } from "../../../foundation/errors.js";
import type { Logger } from "../../../foundation/log.js";
import type { HypervisorDriver } from "../../../hypervisor/driver.js";

export const CONSOLE_RELAYS_MAX = 32;

export class ConsoleRelay {
  private readonly active = new Set<string>();

  constructor(
    private readonly driver: HypervisorDriver,
    private readonly connect: (sessionId: string) => Promise<Duplex>,
    private readonly log: Logger,
  ) {}

  handle(sessions: ReadonlyArray<{ sessionId: string; domainName: string }>): void {
    for (const session of sessions) {
      if (this.active.has(session.sessionId) || this.active.size >= CONSOLE_RELAYS_MAX) continue;
      this.active.add(session.sessionId);
      this.relay(session.sessionId, session.domainName)
        .catch((error: unknown) =>
          this.log.warn(`console of ${session.domainName}: ${errorMessage(error)}`),
        )
        .finally(() => this.active.delete(session.sessionId));
    }
  }

  private async relay(sessionId: string, domainName: string): Promise<void> {
    const remote = await this.connect(sessionId);
    let guest;
    try {
      guest = await this.driver.console(domainName);
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
