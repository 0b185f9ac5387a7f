/**
 * AoE addresses (shelf.slot) for volumes: unique across the cluster, never a broadcast value, and
 * never one a foreign target already answers on the wire. Pure: the caller gives what is taken.
 */
import {
  AOE_SHELF_MAX,
  AOE_SLOT_MAX,
  formatAoeAddress,
  isAoeAddressProblem,
  readAoeAddress,
  type AoeAddress,
} from "../../aoe/codec/index.js";
import { EtherplaneError } from "../../foundation/errors.js";

export { formatAoeAddress, type AoeAddress };

const key = (a: AoeAddress) => a.shelf * 256 + a.slot;

/** The first free address, shelf by shelf from `firstShelf` (slots 0-254 each). */
export function allocateAddress(taken: readonly AoeAddress[], firstShelf = 1): AoeAddress {
  const used = new Set(taken.map(key));
  for (let shelf = firstShelf; shelf <= AOE_SHELF_MAX; shelf++) {
    for (let slot = 0; slot <= AOE_SLOT_MAX; slot++) {
      if (!used.has(shelf * 256 + slot)) return { shelf, slot };
    }
  }
  throw new EtherplaneError("CONFLICT", "every AoE address is in use; delete volumes to free some");
}

/** Parses `S.L` or `eS.L`; INVALID_ARGUMENT naming `field` when malformed or out of range. */
export function parseAoeAddress(text: string, field = "address"): AoeAddress {
  const reading = readAoeAddress(text.trim());
  if (isAoeAddressProblem(reading)) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${field}: ${reading.problem}; ${reading.fix}`, {
      params: { field },
    });
  }
  return reading;
}

/** CONFLICT when `wanted` is taken by a volume or answered by a foreign target. */
export function checkAddressFree(
  wanted: AoeAddress,
  taken: readonly AoeAddress[],
  foreign: readonly AoeAddress[],
): void {
  if (taken.some((a) => key(a) === key(wanted))) {
    throw new EtherplaneError(
      "CONFLICT",
      `${formatAoeAddress(wanted)} is already used by another volume; choose another address or leave it out to get a free one`,
      { params: { field: "address" } },
    );
  }
  if (foreign.some((a) => key(a) === key(wanted))) {
    throw new EtherplaneError(
      "CONFLICT",
      `${formatAoeAddress(wanted)} is already answered on the network by a target etherplane does not manage; choose another address`,
      { params: { field: "address" } },
    );
  }
}
