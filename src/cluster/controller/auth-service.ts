/**
 * Bearer tokens and what each role may do. Secrets are shown once, at creation; the store keeps
 * only their SHA-256. Every API call is authenticated; agents and join tokens can do agent things
 * only.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { newId, newSecret, sha256Hex } from "../../foundation/ids.js";
import type { Role, TokenRecord } from "../model.js";
import type { Store } from "../store/store.js";
import {
  checkHostName,
  JOIN_TTL_MS_DEFAULT,
  JOIN_TTL_MS_MAX,
  joinTokenText,
} from "./join-tokens.js";

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

/** Agent tokens kept in memory at most (one per host; far above a real cluster). */
const AGENT_TOKENS_CACHED_MAX = 20_000;

export class AuthService {
  /**
   * Agent tokens by secret hash, so that a lease renewal (every host, every second) reads no
   * store. Only agent tokens: only this process writes them (join, the token routes), through a
   * store that calls `tokensWritten` after every token write (controller.ts), which empties the
   * cache: a revoked agent token is refused from the next request on. Other roles' tokens may be
   * written by another process (local-token.ts): they are always read from the store. Revocation
   * and expiry are checked on every request, cached or not.
   */
  private readonly agentTokens = new Map<string, TokenRecord>();
  /** Counts token writes: a lookup that raced one is not cached. */
  private tokenWrites = 0;

  /**
   * The SHA-256 (hex) of the CA certificate the API serves under, when it serves TLS: join tokens
   * carry it. Set by whoever starts the API server.
   */
  caSha256: string | null = null;

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
    const hash = sha256Hex(secret);
    const token = this.agentTokens.get(hash) ?? (await this.lookUp(hash));
    if (!token || token.revoked || (token.expiresMs !== null && token.expiresMs < this.now())) {
      throw new EtherplaneError(
        "UNAUTHENTICATED",
        token?.role === "join"
          ? "this join token was used already, revoked or expired: an admin makes a new one with `etherplane token create NAME --role join`"
          : "unknown, revoked or expired token",
      );
    }
    return { tokenId: token.id, name: token.name, role: token.role, hostId: token.hostId };
  }

  private async lookUp(hash: string): Promise<TokenRecord | undefined> {
    const writes = this.tokenWrites;
    const token = await this.store.findTokenBySecretHash(hash);
    if (token?.role === "agent" && !token.revoked && writes === this.tokenWrites) {
      if (this.agentTokens.size >= AGENT_TOKENS_CACHED_MAX) this.agentTokens.clear();
      this.agentTokens.set(hash, token);
    }
    return token;
  }

  /** A token was written (created, revoked): what is cached may be stale. */
  tokensWritten(): void {
    this.tokenWrites++;
    this.agentTokens.clear();
  }

  /** Creates a token; the secret is returned once and never stored. */
  async createToken(spec: {
    name: string;
    role: Role;
    hostId?: string | null;
    expiresMs?: number | null;
  }): Promise<{ token: TokenRecord; secret: string }> {
    const secret = newSecret(spec.role === "agent" ? "epa" : "ept");
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

  /**
   * A join token for one host name, used once, expiring after `ttlMs` (default one hour). With
   * `replaceHostId`, it lets that (existing) host join again; otherwise the name must be new.
   */
  async createJoinToken(spec: {
    hostName: string;
    ttlMs?: number;
    replaceHostId?: string | null;
  }): Promise<{ token: TokenRecord; secret: string }> {
    checkHostName(spec.hostName);
    const ttlMs = spec.ttlMs ?? JOIN_TTL_MS_DEFAULT;
    if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > JOIN_TTL_MS_MAX)
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `ttl: a join token lives at most ${JOIN_TTL_MS_MAX / 86_400_000} days; give e.g. --ttl 30m`,
        { params: { field: "expiresInSeconds" } },
      );
    const secret = joinTokenText(newSecret("epj"), this.caSha256);
    const token: TokenRecord = {
      id: newId("tok"),
      name: spec.hostName,
      role: "join",
      secretHash: sha256Hex(secret),
      hostId: spec.replaceHostId ?? null,
      createdMs: this.now(),
      expiresMs: this.now() + ttlMs,
      revoked: false,
    };
    await this.store.createToken(token);
    return { token, secret };
  }

  /** Revokes every live agent token of a host (it is being replaced). */
  async revokeAgentTokens(hostId: string): Promise<number> {
    const tokens = (await this.store.listTokens()).filter(
      (t) => t.role === "agent" && t.hostId === hostId && !t.revoked,
    );
    try {
      for (const token of tokens) await this.store.updateToken(token.id, { revoked: true });
    } finally {
      this.tokensWritten(); // also when the store is not the controller's (which says so itself)
    }
    return tokens.length;
  }

  async revoke(id: string): Promise<TokenRecord> {
    try {
      return await this.store.updateToken(id, { revoked: true });
    } finally {
      this.tokensWritten();
    }
  }
}
