/**
 * Guest consoles for browsers: a WebSocket at /api/v1/console/ws?ticket=... (the ticket from
 * POST /api/v1/console-tickets, since a browser cannot send a bearer token on a WebSocket),
 * bridged to the same ConsoleBroker session as `etherplane console`: history, then live bytes
 * both ways, as binary messages. A refusal after the handshake closes the socket with code
 * 4000 + the HTTP status the API would give and the API's message as the reason, so the page can
 * say what to do.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, createWebSocketStream, type WebSocket } from "ws";
import { authorize } from "../cluster/controller/auth-service.js";
import type { Controller } from "../cluster/controller/controller.js";
import { toErrorResponse } from "../api/error-mapping.js";
import { EtherplaneError, errorFields } from "../foundation/errors.js";
import type { Logger } from "../foundation/log.js";
import type { ConsoleTickets } from "./console-tickets.js";

export const CONSOLE_WS_PATH = "/api/v1/console/ws";
/** A browser types; it does not paste megabytes. ws closes a connection sending more (1009). */
const MESSAGE_BYTES_MAX = 64 * 1024;
const REASON_BYTES_MAX = 123; // RFC 6455 5.5: a control frame's payload is at most 125 bytes

export function isWebSocketUpgrade(request: IncomingMessage): boolean {
  return request.headers.upgrade?.toLowerCase() === "websocket";
}

function closeReason(message: string): string {
  let reason = message;
  while (Buffer.byteLength(reason) > REASON_BYTES_MAX) reason = reason.slice(0, -1);
  return reason;
}

export function consoleWebSocketHandler(
  controller: Controller,
  tickets: ConsoleTickets,
  log: Logger,
) {
  const server = new WebSocketServer({ noServer: true, maxPayload: MESSAGE_BYTES_MAX });
  return (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", (error) => log.debug(`console websocket: ${error.message}`));
    const url = new URL(request.url ?? "/", "http://controller");
    if (url.pathname !== CONSOLE_WS_PATH) {
      socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    server.handleUpgrade(request, socket, head, (ws) => {
      bridge(controller, tickets, ws, url.searchParams.get("ticket")).catch((error: unknown) => {
        const { status, body } = toErrorResponse(error);
        if (status >= 500) log.error("console websocket failed", errorFields(error));
        ws.close(4000 + status, closeReason(body.error.message));
      });
    });
  };
}

async function bridge(
  controller: Controller,
  tickets: ConsoleTickets,
  ws: WebSocket,
  ticketSecret: string | null,
): Promise<void> {
  const { principal, domainId } = tickets.take(ticketSecret);
  // The token may have been revoked since the ticket was issued.
  const token = (await controller.store.listTokens()).find((t) => t.id === principal.tokenId);
  if (!token || token.revoked || (token.expiresMs !== null && token.expiresMs < Date.now()))
    throw new EtherplaneError("UNAUTHENTICATED", "the token that asked for this ticket is gone");
  authorize(principal, "write");
  const domain = await controller.domains.get(domainId);
  const state = domain.observed?.state ?? "stopped";
  if (domain.hostId === null || state === "stopped")
    throw new EtherplaneError("CONFLICT", `domain ${domain.name} is not running: start it first`);
  if (ws.readyState !== ws.OPEN) return;
  const stream = createWebSocketStream(ws);
  stream.on("error", () => stream.destroy());
  const sessionId = controller.consoles.open(domain.hostId, domain.name, stream, principal.tokenId);
  await controller.audit.record({
    timeMs: Date.now(),
    actor: principal.name,
    role: principal.role,
    method: "GET",
    path: CONSOLE_WS_PATH,
    status: 101,
    result: "ok",
    subject: `console of ${domain.name} (session ${sessionId}, web)`,
    detail: null,
  });
}
