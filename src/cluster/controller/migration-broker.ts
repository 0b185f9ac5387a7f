/**
 * Live migration streams through the controller. Agents never listen: for each migration the
 * controller opens a session, lists it in the desired state of the destination (receive) and of
 * the source (send), and each agent connects back (GET /api/v1/agent/migration/{sessionId}, with
 * its own agent token). The session is bound to those two hosts and their roles; each role
 * attaches once; the two streams are piped together untouched (the bytes counted) until either
 * side ends. What each side reports (ObservedMigration) is kept here for the MigrationService.
 * Bounded: sessions at once, and each session's lifetime.
 */
import type { Duplex } from "node:stream";
import { EtherplaneError } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";
import type { DesiredDomain, DesiredMigration, ObservedMigration } from "../agent-protocol.js";

export const MIGRATION_SESSIONS_MAX = 16;
/** A session outlives no migration: the transfer's own bound plus the steps around it. */
export const MIGRATION_SESSION_MS_MAX = 15 * 60_000;

type Role = "send" | "receive";

interface Side {
  hostId: string;
  phase: DesiredMigration["phase"] | null;
  stream: Duplex | null;
  observed: ObservedMigration | null;
}

export interface MigrationSession {
  id: string;
  domain: DesiredDomain;
  createdMs: number;
  /** Bytes from the source to the destination so far. */
  bytes: number;
  send: Side;
  receive: Side;
}

export class MigrationBroker {
  private readonly sessions = new Map<string, MigrationSession>();
  /** Told when hosts' parts change (a phase, a session gone): their agents' long-polls wake. */
  onChange: (hostIds: string[]) => void = () => undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** A session from `sourceId` to `destinationId`; neither side is asked to act yet. */
  open(domain: DesiredDomain, sourceId: string, destinationId: string): MigrationSession {
    this.expire();
    if (this.sessions.size >= MIGRATION_SESSIONS_MAX)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `${MIGRATION_SESSIONS_MAX} migrations run already; wait for one to finish`,
      );
    const side = (hostId: string): Side => ({ hostId, phase: null, stream: null, observed: null });
    const session: MigrationSession = {
      id: newId("mig"),
      domain,
      createdMs: this.now(),
      bytes: 0,
      send: side(sourceId),
      receive: side(destinationId),
    };
    this.sessions.set(session.id, session);
    return session;
  }

  get(sessionId: string): MigrationSession | undefined {
    return this.sessions.get(sessionId);
  }

  /** Asks a side to act (it sees this in its next desired state). */
  setPhase(sessionId: string, role: Role, phase: DesiredMigration["phase"] | null): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    session[role].phase = phase;
    this.onChange([session[role].hostId]);
  }

  /** What `hostId` must do now. */
  desiredFor(hostId: string): DesiredMigration[] {
    this.expire();
    const desired: DesiredMigration[] = [];
    for (const session of this.sessions.values()) {
      for (const role of ["send", "receive"] as const) {
        const side = session[role];
        if (side.hostId !== hostId || side.phase === null) continue;
        desired.push({ sessionId: session.id, role, phase: side.phase, domain: session.domain });
      }
    }
    return desired;
  }

  /** An agent's report: only what belongs to its own side of a session is kept. */
  observe(hostId: string, observed: readonly ObservedMigration[]): void {
    for (const report of observed) {
      const session = this.sessions.get(report.sessionId);
      const side = session?.[report.role];
      if (side?.hostId === hostId) side.observed = report;
    }
  }

  /** The agent's stream for its side; once both sides are here, they are piped together. */
  attach(sessionId: string, hostId: string, stream: Duplex): void {
    const session = this.sessions.get(sessionId);
    const role: Role | undefined =
      session?.send.hostId === hostId
        ? "send"
        : session?.receive.hostId === hostId
          ? "receive"
          : undefined;
    if (!session || !role || session[role].phase !== "run" || session[role].stream !== null)
      throw new EtherplaneError(
        "NOT_FOUND",
        `no migration session ${sessionId} waits for this host`,
      );
    session[role].stream = stream;
    stream.once("error", () => this.hangUp(session));
    stream.once("close", () => this.hangUp(session));
    const { send, receive } = session;
    if (!send.stream || !receive.stream) return;
    send.stream.on("data", (chunk: Buffer) => (session.bytes += chunk.length));
    send.stream.pipe(receive.stream);
    receive.stream.pipe(send.stream);
  }

  /** One side went away: the other's stream ends too (what was sent still flows). */
  private hangUp(session: MigrationSession): void {
    session.send.stream?.end();
    session.receive.stream?.end();
  }

  /** Ends a session and its streams. */
  close(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.sessions.delete(sessionId);
    session.send.stream?.destroy();
    session.receive.stream?.destroy();
    this.onChange([session.send.hostId, session.receive.hostId]);
  }

  /** Ends every session and its streams (a controller stopping). */
  closeAll(): void {
    for (const id of [...this.sessions.keys()]) this.close(id);
  }

  private expire(): void {
    for (const session of [...this.sessions.values()])
      if (this.now() - session.createdMs > MIGRATION_SESSION_MS_MAX) this.close(session.id);
  }
}
