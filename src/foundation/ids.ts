/** Ids and secrets. */
import { createHash, randomBytes, randomUUID } from "node:crypto";

/** An opaque record id, e.g. `vol-1b9d6bcd`: a prefix naming the kind, then 12 hex digits. */
export function newId(prefix: string): string {
  return `${prefix}-${randomUUID().replace(/-/g, "").slice(0, 12)}`;
}

/** A bearer-token secret: 32 random bytes, base64url, with a readable prefix. */
export function newSecret(prefix = "ept"): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
