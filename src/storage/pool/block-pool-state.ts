/**
 * BlockPool's state file: which volume claims which device. Small JSON, replaced atomically
 * (durable-fs.ts writeFileAtomic), validated when read: it is on disk, so a person or a torn
 * write may have changed it, and a bad one is refused with the file's name and the reason.
 *
 * {"version":1,"volumes":{"vol-1":{"device":"/dev/vg0/lv1","requestedBytes":1048576,"state":"ready"}}}
 */
import * as fsp from "node:fs/promises";
import { EtherplaneError } from "../../foundation/errors.js";
import { fsError, writeFileAtomic } from "./durable-fs.js";
import { VOLUME_BYTES_MAX, VOLUME_ID_PATTERN } from "./volume-checks.js";

export const STATE_VERSION = 1;
/** Far above what thousands of claims take (~100 bytes each). */
export const STATE_FILE_BYTES_MAX = 4 * 1024 * 1024;

export interface BlockClaim {
  device: string;
  /** The size the caller asked for; the volume's size is its device's, at least this. */
  requestedBytes: number;
  /** "copying": a clone is (or was, before a crash) filling the device; not yet a volume. */
  state: "ready" | "copying";
}

/** volumeId -> claim. A Map: ids like "constructor" must not meet Object.prototype. */
export type BlockClaims = Map<string, BlockClaim>;

export async function loadBlockPoolState(file: string): Promise<BlockClaims> {
  let text: string;
  try {
    const stat = await fsp.stat(file);
    if (stat.size > STATE_FILE_BYTES_MAX)
      throw invalid(file, `larger than ${STATE_FILE_BYTES_MAX} bytes`);
    text = await fsp.readFile(file, "utf8");
  } catch (cause) {
    if (cause instanceof EtherplaneError) throw cause;
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return new Map(); // a new pool
    throw fsError("read", file, cause);
  }
  return parseBlockPoolState(text, file);
}

export async function saveBlockPoolState(file: string, claims: BlockClaims): Promise<void> {
  await writeFileAtomic(file, formatBlockPoolState(claims));
}

export function formatBlockPoolState(claims: BlockClaims): string {
  const volumes: Record<string, BlockClaim> = {};
  for (const id of [...claims.keys()].sort()) {
    const claim = claims.get(id);
    if (claim) volumes[id] = { ...claim };
  }
  return JSON.stringify({ version: STATE_VERSION, volumes }, null, 2) + "\n";
}

export function parseBlockPoolState(text: string, file: string): BlockClaims {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw invalid(file, `not JSON (${(cause as Error).message})`);
  }
  if (!isRecord(parsed) || parsed["version"] !== STATE_VERSION || !isRecord(parsed["volumes"])) {
    throw invalid(file, `not a version ${STATE_VERSION} state ({"version":1,"volumes":{...}})`);
  }
  const claims: BlockClaims = new Map();
  const devices = new Map<string, string>();
  for (const [id, value] of Object.entries(parsed["volumes"])) {
    if (!VOLUME_ID_PATTERN.test(id)) throw invalid(file, `volume id ${JSON.stringify(id)}`);
    const claim = parseClaim(value);
    if (!claim) throw invalid(file, `the claim of ${id} needs device, requestedBytes and state`);
    const other = devices.get(claim.device);
    if (other) throw invalid(file, `${claim.device} is claimed by both ${other} and ${id}`);
    devices.set(claim.device, id);
    claims.set(id, claim);
  }
  return claims;
}

function parseClaim(value: unknown): BlockClaim | undefined {
  if (!isRecord(value)) return undefined;
  const { device, requestedBytes, state } = value;
  if (typeof device !== "string" || !device.startsWith("/") || device.length > 4096)
    return undefined;
  if (
    typeof requestedBytes !== "number" ||
    !Number.isSafeInteger(requestedBytes) ||
    requestedBytes <= 0 ||
    requestedBytes > VOLUME_BYTES_MAX
  ) {
    return undefined;
  }
  if (state !== "ready" && state !== "copying") return undefined;
  return { device, requestedBytes, state };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(file: string, reason: string): EtherplaneError {
  return new EtherplaneError(
    "INVALID_CONFIG",
    `block pool state ${file}: ${reason}; fix or remove the file (removing it releases every claim)`,
    { params: { file } },
  );
}
