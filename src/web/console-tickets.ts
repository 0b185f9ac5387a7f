/**
 * Console tickets: a browser cannot put an Authorization header on a WebSocket, so it first asks
 * for a ticket with its bearer token over fetch (POST /api/v1/console-tickets) and passes the
 * ticket in the WebSocket's URL. A ticket opens one console of one domain, once, within
 * TICKET_TTL_MS, and only for the principal that asked (its token is checked again on use, so a
 * token revoked in between opens nothing). Only the ticket's SHA-256 is kept; a URL that leaks
 * into a log is worthless after its single use or a few seconds.
 */
import type { Principal } from "../cluster/controller/auth-service.js";
import { EtherplaneError } from "../foundation/errors.js";
import { newSecret, sha256Hex } from "../foundation/ids.js";

export const TICKET_TTL_MS = 30_000;
export const TICKETS_MAX = 256;

export interface ConsoleTicket {
  principal: Principal;
  /** The domain's id: a rename in between does not send the ticket elsewhere. */
  domainId: string;
}

interface Entry extends ConsoleTicket {
  expiresMs: number;
}

export class ConsoleTickets {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = TICKET_TTL_MS,
    private readonly max = TICKETS_MAX,
  ) {}

  /** A new ticket's secret and expiry. UNAVAILABLE when too many are outstanding. */
  issue(ticket: ConsoleTicket): { ticket: string; expiresMs: number } {
    this.sweep();
    if (this.entries.size >= this.max)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `${this.max} console tickets are outstanding; use them or wait ${this.ttlMs / 1000} s`,
      );
    const secret = newSecret("ect");
    const expiresMs = this.now() + this.ttlMs;
    this.entries.set(sha256Hex(secret), { ...ticket, expiresMs });
    return { ticket: secret, expiresMs };
  }

  /** Redeems a ticket once: UNAUTHENTICATED if it is unknown, used or expired. */
  take(secret: string | null): ConsoleTicket {
    const key = secret ? sha256Hex(secret) : "";
    const entry = this.entries.get(key);
    this.entries.delete(key);
    if (!entry || entry.expiresMs < this.now())
      throw new EtherplaneError(
        "UNAUTHENTICATED",
        "unknown, used or expired console ticket: ask for a new one (POST /api/v1/console-tickets)",
      );
    return { principal: entry.principal, domainId: entry.domainId };
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresMs < now) this.entries.delete(key);
  }
}
