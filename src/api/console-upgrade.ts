/**
 * Guest consoles over HTTP upgrades (`Upgrade: etherplane-console`), beside the REST routes:
 *
 *   GET /api/v1/domains/{ref}/console       a client (operator or admin) attaches
 *   GET /api/v1/agent/console/{sessionId}   the domain host's agent connects back
 *
 * After `101 Switching Protocols` the connection carries the console's raw bytes both ways; the
 * controller's ConsoleBroker pairs the two. Errors before that are the API's JSON errors.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { MIGRATION_UPGRADE } from "../cluster/agent-protocol.js";
import { authorize } from "../cluster/controller/auth-service.js";
import type { Controller } from "../cluster/controller/controller.js";
import { EtherplaneError } from "../foundation/errors.js";
import type { Logger } from "../foundation/log.js";
import { toErrorResponse } from "./error-mapping.js";

export const CONSOLE_UPGRADE = "etherplane-console";
const CLIENT_PATH = /^\/api\/v1\/domains\/([^/]{1,128})\/console$/;
const AGENT_PATH = /^\/api\/v1\/agent\/console\/([A-Za-z0-9-]{1,64})$/;
/** A live migration's stream: each of the two agents connects here (migration-broker.ts). */
const MIGRATION_PATH = /^\/api\/v1\/agent\/migration\/([A-Za-z0-9-]{1,64})$/;

function reason(status: number): string {
  return (
    {
      400: "Bad Request",
      401: "Unauthorized",
      403: "Forbidden",
      404: "Not Found",
      409: "Conflict",
    }[status] ?? "Error"
  );
}

function refuse(socket: Duplex, error: unknown): void {
  const { status, body } = toErrorResponse(error);
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${reason(status)}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

function accept(socket: Duplex, head: Buffer, protocol = CONSOLE_UPGRADE): void {
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${protocol}\r\nconnection: Upgrade\r\n\r\n`,
  );
  if (head.length > 0) socket.unshift(head);
}

export function consoleUpgradeHandler(controller: Controller, log: Logger) {
  return (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", (error) => log.debug(`console connection: ${error.message}`));
    handle(controller, request, socket, head).catch((error: unknown) => refuse(socket, error));
  };
}

async function handle(
  controller: Controller,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const protocol = request.headers.upgrade?.toLowerCase();
  if (protocol !== CONSOLE_UPGRADE && protocol !== MIGRATION_UPGRADE)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `only "Upgrade: ${CONSOLE_UPGRADE}" and "Upgrade: ${MIGRATION_UPGRADE}" are served`,
    );
  const path = new URL(request.url ?? "/", "http://controller").pathname;
  const header = request.headers.authorization;
  const secret = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
  const principal = await controller.auth.authenticate(secret);

  if (protocol === MIGRATION_UPGRADE) {
    // Only the two hosts of the session, each once, for its own role (migration-broker.ts).
    const migration = MIGRATION_PATH.exec(path);
    if (!migration?.[1]) throw new EtherplaneError("NOT_FOUND", `no migration stream at ${path}`);
    authorize(principal, "agent");
    if (!principal.hostId) throw new EtherplaneError("FORBIDDEN", "this token belongs to no host");
    controller.migrationStreams.attach(migration[1], principal.hostId, socket);
    accept(socket, head, MIGRATION_UPGRADE);
    return;
  }

  const client = CLIENT_PATH.exec(path);
  if (client?.[1]) {
    authorize(principal, "write");
    const domain = await controller.domains.get(decodeURIComponent(client[1]));
    const state = domain.observed?.state ?? "stopped";
    if (domain.hostId === null || state === "stopped")
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${domain.name} is not running: etherplane start ${domain.name}`,
      );
    const sessionId = controller.consoles.open(
      domain.hostId,
      domain.name,
      socket,
      principal.tokenId,
    );
    accept(socket, head);
    await controller.audit.record({
      timeMs: Date.now(),
      actor: principal.name,
      role: principal.role,
      method: "GET",
      path,
      status: 101,
      result: "ok",
      subject: `console of ${domain.name} (session ${sessionId})`,
      detail: null,
    });
    return;
  }
  const agent = AGENT_PATH.exec(path);
  if (agent?.[1]) {
    authorize(principal, "agent");
    if (!principal.hostId) throw new EtherplaneError("FORBIDDEN", "this token belongs to no host");
    controller.consoles.attach(agent[1], principal.hostId, socket);
    accept(socket, head);
    return;
  }
  throw new EtherplaneError("NOT_FOUND", `no console at ${path}`);
}
