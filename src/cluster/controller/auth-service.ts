/**
 * Bearer tokens and what each role may do. Secrets are shown once, at creation; the store keeps
 * only their SHA-256. Every API call is authenticated; agents and join tokens can do agent things
 * only.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { newId, newSecret, sha256Hex } from "../../foundation/ids.js";
import type { Role, TokenRecord } from "../model.js";
import type { Store } from "../store/store.js";

export type Permission = "read" | "write" | "admin" | "agent" | "join";

const permissions: Record<TokenRecord["role"], readonly Permission[]> = {
  admin: ["read", "write", "admin"],
  operator: ["read", "write"],
  viewer: ["read"],
  agent: ["agent"],
  join: ["join"],
};

export interface Principal {
  tokenId: string;
  name: string;
  role: TokenRecord["role"];
  hostId: string | null;
}

export function authorize(principal: Principal, needed: Permission): void {
  if (!permissions[principal.role].includes(needed)) {
    throw new EtherplaneError(
      "FORBIDDEN",
      `the ${principal.role} token "${principal.name}" may not do this (it needs ${needed} rights)`,
    );
  }
}

export class AuthService {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(secret: string | undefined): Promise<Principal> {
    if (!secret)
      throw new EtherplaneError(
        "UNAUTHENTICATED",
        "no token: send Authorization: Bearer <token> (etherplane login stores one)",
      );
    const token = await this.store.findTokenBySecretHash(sha256Hex(secret));
    if (!token || token.revoked || (token.expiresMs !== null && token.expiresMs < this.now())) {
      throw new EtherplaneError("UNAUTHENTICATED", "unknown, revoked or expired token");
    }
    return { tokenId: token.id, name: token.name, role: token.role, hostId: token.hostId };
  }

  /** Creates a token; the secret is returned once and never stored. */
  async createToken(spec: {
    name: string;
    role: Role | "join";
    hostId?: string | null;
    expiresMs?: number | null;
  }): Promise<{ token: TokenRecord; secret: string }> {
    const secret = newSecret(spec.role === "agent" ? "epa" : spec.role === "join" ? "epj" : "ept");
    const token: TokenRecord = {
      id: newId("tok"),
      name: spec.name,
      role: spec.role,
      secretHash: sha256Hex(secret),
      hostId: spec.hostId ?? null,
      createdMs: this.now(),
      expiresMs: spec.expiresMs ?? null,
      revoked: false,
    };
    await this.store.createToken(token);
    return { token, secret };
  }

  async revoke(id: string): Promise<TokenRecord> {
    return this.store.updateToken(id, { revoked: true });
  }
}
