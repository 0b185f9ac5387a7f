/** Token records <-> SQLite rows (the conventions: row-json.ts). Pure. */
import type { TokenRecord } from "../../model.js";

export interface TokenRow {
  id: string;
  name: string;
  role: string;
  secret_hash: string;
  host_id: string | null;
  created_ms: number;
  expires_ms: number | null;
  revoked: number;
}

export function tokenToRow(t: TokenRecord): TokenRow {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    secret_hash: t.secretHash,
    host_id: t.hostId,
    created_ms: t.createdMs,
    expires_ms: t.expiresMs,
    revoked: t.revoked ? 1 : 0,
  };
}

export function rowToToken(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as TokenRecord["role"],
    secretHash: r.secret_hash,
    hostId: r.host_id,
    createdMs: r.created_ms,
    expiresMs: r.expires_ms,
    revoked: r.revoked === 1,
  };
}
