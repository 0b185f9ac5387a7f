/**
 * A QEMU guest's uuid as QEMU itself reports it (QMP `query-uuid`, qapi/machine.json: returns
 * `{"UUID": "550e8400-e29b-41d4-a716-446655440000"}`, the `-uuid` it was started with, or the
 * nil uuid without one). The driver compares it with the uuid the caller expects before every
 * act (guest-identity.ts): the run directory's record says what etherplane asked for, QEMU says
 * which guest answers on the socket.
 */
import type { QmpConnection } from "./qmp-client.js";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The uuid in a `query-uuid` reply, lower case; undefined for anything else. */
export function uuidOfQueryUuid(value: unknown): string | undefined {
  const uuid = (value as { UUID?: unknown } | null)?.UUID;
  return typeof uuid === "string" && UUID_PATTERN.test(uuid) ? uuid.toLowerCase() : undefined;
}

export async function queryGuestUuid(
  qmp: QmpConnection,
  timeoutMs: number,
): Promise<string | undefined> {
  return uuidOfQueryUuid(await qmp.execute("query-uuid", undefined, timeoutMs));
}
