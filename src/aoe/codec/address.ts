/**
 * AoE addresses as people write them: `eS.L` (the Linux driver's device names,
 * drivers/block/aoe/aoeblk.c) or `S.L`, shelf (major) 0-65534 and slot (minor) 0-254; 0xFFFF
 * and 0xFF are broadcast (AoEr11 2.3, 2.4). The one reader and writer of that text: the target's
 * config, the CLI, the controller's volumes and domain import all use it. Pure.
 */
import { AOE_SHELF_MAX, AOE_SLOT_MAX } from "./header.js";

export interface AoeAddress {
  shelf: number;
  slot: number;
}

/** What is wrong with an address's text, and what to write instead. */
export interface AoeAddressProblem {
  /** syntax: not S.L at all; range: a shelf or slot no export may have. */
  kind: "syntax" | "range";
  problem: string;
  fix: string;
}

const ADDRESS = /^e?(\d{1,5})\.(\d{1,3})$/;
const ETHERD = /^\/dev\/etherd\/e(\d{1,5})\.(\d{1,3})$/;

/** Reads `S.L` or `eS.L`: the address, or why it is none (bad syntax, a broadcast value). */
export function readAoeAddress(text: unknown): AoeAddress | AoeAddressProblem {
  const match = typeof text === "string" ? ADDRESS.exec(text) : null;
  if (!match) {
    return {
      kind: "syntax",
      problem: `${JSON.stringify(text)} is not an AoE address`,
      fix: 'write shelf.slot, e.g. "1.0" or "e1.0"',
    };
  }
  const address = { shelf: Number(match[1]), slot: Number(match[2]) };
  return checkAoeAddress(address) ?? address;
}

/** Why a shelf and slot are no export's address (out of range, broadcast), or undefined. */
export function checkAoeAddress(address: AoeAddress): AoeAddressProblem | undefined {
  const { shelf, slot } = address;
  if (!Number.isInteger(shelf) || shelf < 0 || shelf > AOE_SHELF_MAX) {
    return {
      kind: "range",
      problem: `shelf ${shelf} is out of range`,
      fix: `use 0-${AOE_SHELF_MAX} (0xFFFF is broadcast)`,
    };
  }
  if (!Number.isInteger(slot) || slot < 0 || slot > AOE_SLOT_MAX) {
    return {
      kind: "range",
      problem: `slot ${slot} is out of range`,
      fix: `use 0-${AOE_SLOT_MAX} (0xFF is broadcast)`,
    };
  }
  return undefined;
}

export function isAoeAddressProblem(
  reading: AoeAddress | AoeAddressProblem,
): reading is AoeAddressProblem {
  return "problem" in reading;
}

/** `e1.0`: the device name the Linux driver gives an address. */
export function formatAoeAddress(address: AoeAddress): string {
  return `e${address.shelf}.${address.slot}`;
}

/** The address a `/dev/etherd/eS.L` path names (the aoe driver's block device), or undefined. */
export function readEtherdPath(path: string): AoeAddress | undefined {
  const match = ETHERD.exec(path);
  return match ? { shelf: Number(match[1]), slot: Number(match[2]) } : undefined;
}
