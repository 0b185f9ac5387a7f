/**
 * AoE addresses (shelf.slot) for volumes: unique across the cluster, never a broadcast value, and
 * never one a foreign target already answers on the wire. Pure: the caller gives what is taken.
 */
import { EtherplaneError } from "../../foundation/errors.js";

export interface AoeAddress {
  shelf: number;
  slot: number;
}

export const SHELF_MAX = 0xfffe; // 0xFFFF is broadcast
export const SLOT_MAX = 0xfe; // 0xFF is broadcast

const key = (a: AoeAddress) => a.shelf * 256 + a.slot;

/** The first free address, shelf by shelf from `firstShelf` (slots 0-254 each). */
export function allocateAddress(taken: readonly AoeAddress[], firstShelf = 1): AoeAddress {
  const used = new Set(taken.map(key));
  for (let shelf = firstShelf; shelf <= SHELF_MAX; shelf++) {
    for (let slot = 0; slot <= SLOT_MAX; slot++) {
      if (!used.has(shelf * 256 + slot)) return { shelf, slot };
    }
  }
  throw new EtherplaneError("CONFLICT", "every AoE address is in use; delete volumes to free some");
}

/** Parses `S.L` or `eS.L`; INVALID_ARGUMENT naming `field` when malformed or out of range. */
export function parseAoeAddress(text: string, field = "address"): AoeAddress {
  const match = /^e?(\d{1,5})\.(\d{1,3})$/.exec(text.trim());
  const shelf = Number(match?.[1]);
  const slot = Number(match?.[2]);
  if (!match || shelf > SHELF_MAX || slot > SLOT_MAX) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${field}: "${text}" is not an AoE address; write shelf.slot with shelf 0-65534 and slot 0-254, e.g. 1.0`,
      {
        params: { field },
      },
    );
  }
  return { shelf, slot };
}

export function formatAoeAddress(address: AoeAddress): string {
  return `e${address.shelf}.${address.slot}`;
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
