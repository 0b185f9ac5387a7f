/**
 * Ethernet MAC addresses of domain vifs: one canonical text form (lower case, colons), so that a
 * MAC typed as `00-16-3E-00-00-13` and one read back from xl as `00:16:3e:00:00:13` compare equal.
 */
import { EtherplaneError } from "../../foundation/errors.js";

/** The OUI XenSource registered for virtual interfaces, as libxl writes it. */
export const XEN_OUI = "00:16:3e";

/** Longer input is not a MAC; refusing it early keeps messages short. */
const macTextMax = 64;
const COLON_FORM = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const DASH_FORM = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/;

function invalid(text: string, why: string): EtherplaneError {
  const shown = text.length > macTextMax ? `${text.slice(0, macTextMax)}...` : text;
  return new EtherplaneError("INVALID_ARGUMENT", `MAC address ${JSON.stringify(shown)} ${why}`, {
    params: { mac: shown },
  });
}

/**
 * `text` in lower-case colon form. Accepts colons or dashes (not mixed), either case. Refuses
 * multicast (bit 0 of the first byte: IEEE 802-2014 8.2.2, the I/G bit), which includes broadcast,
 * and the all-zero address: neither can be a vif's own address.
 */
export function normalizeMac(text: string): string {
  const lower = text.trim().toLowerCase();
  if (lower.length > macTextMax || !(COLON_FORM.test(lower) || DASH_FORM.test(lower))) {
    throw invalid(
      text,
      "is not a MAC address: write six pairs of hex digits separated by colons, e.g. 00:16:3e:12:34:56",
    );
  }
  const mac = lower.replaceAll("-", ":");
  if ((Number.parseInt(mac.slice(0, 2), 16) & 0x01) !== 0) {
    throw invalid(
      text,
      "is a multicast address (lowest bit of the first byte set): a vif needs a unicast one, e.g. 00:16:3e:12:34:56",
    );
  }
  if (mac === "00:00:00:00:00:00") {
    throw invalid(text, "is all zeros: give a real address or let etherplane allocate one");
  }
  return mac;
}

/** True when `mac` is a valid unicast MAC in the Xen OUI 00:16:3e (any accepted text form). */
export function isXenOui(mac: string): boolean {
  try {
    return normalizeMac(mac).startsWith(`${XEN_OUI}:`);
  } catch {
    return false; // not a MAC at all, so not one of Xen's either
  }
}

/** The six bytes of a normalized MAC. */
export function macBytes(mac: string): number[] {
  return normalizeMac(mac)
    .split(":")
    .map((pair) => Number.parseInt(pair, 16));
}

/** Six bytes (each 0..255) in canonical text form. */
export function formatMac(bytes: readonly number[]): string {
  if (bytes.length !== 6 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 0xff)) {
    throw new EtherplaneError("INVALID_ARGUMENT", `MAC bytes [${bytes.join(",")}] are not 6 bytes`);
  }
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}
