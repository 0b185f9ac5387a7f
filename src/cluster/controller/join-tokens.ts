/**
 * Join tokens: how a new host gets its agent token. A join token is made for one host name, is
 * used once, and expires (one hour unless told otherwise). It may name a host that exists only
 * when an admin made it to replace that host (a reinstalled machine): that join revokes the old
 * host's agent tokens. When the controller serves TLS, the token's text ends with the SHA-256 of
 * its CA certificate (`.sha256-<hex>`), so an agent can check the controller before it sends the
 * token (as `kubeadm join --discovery-token-ca-cert-hash` does).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { TokenRecord } from "../model.js";

export const JOIN_TTL_MS_DEFAULT = 60 * 60 * 1000;
export const JOIN_TTL_MS_MAX = 7 * 24 * 60 * 60 * 1000;
/** Host names as a join token and `etherplane agent --name` take them (a DNS label or name). */
export const HOST_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$/;
const PIN_SEPARATOR = ".sha256-";
const PIN_PATTERN = /^[0-9a-f]{64}$/;

export function checkHostName(name: string, field = "name"): string {
  if (!HOST_NAME_PATTERN.test(name))
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${field}: "${name.slice(0, 80)}" is not a host name; use 1-63 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
      { params: { field } },
    );
  return name;
}

/** The token text handed to an admin: the secret, then the CA pin when there is one. */
export function joinTokenText(secret: string, caSha256: string | null): string {
  return caSha256 === null ? secret : `${secret}${PIN_SEPARATOR}${caSha256}`;
}

/** The CA pin a join token carries (lower-case hex), or null for a plain-HTTP controller's. */
export function joinTokenPin(token: string): string | null {
  const at = token.lastIndexOf(PIN_SEPARATOR);
  if (at === -1) return null;
  const pin = token.slice(at + PIN_SEPARATOR.length);
  if (!PIN_PATTERN.test(pin))
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      "the join token's CA fingerprint is damaged; copy the whole token again from `etherplane token create`",
    );
  return pin;
}

/**
 * Checks that `token` may join as `hostName` now, with the host `existing` has (if any). Returns
 * the host id to replace, or null for a new host. Pure: the caller revokes and registers.
 */
export function checkJoin(
  token: TokenRecord,
  hostName: string,
  existing: { id: string; name: string } | undefined,
  nowMs: number,
): string | null {
  if (
    token.role !== "join" ||
    token.revoked ||
    (token.expiresMs !== null && token.expiresMs < nowMs)
  )
    throw new EtherplaneError(
      "UNAUTHENTICATED",
      "this join token was used already, revoked or expired: an admin makes a new one with `etherplane token create NAME --role join`",
    );
  if (token.name !== hostName)
    throw new EtherplaneError(
      "FORBIDDEN",
      `this join token is for host "${token.name}", not "${hostName}": run the agent with --name ${token.name}, or make a token for ${hostName}`,
      { params: { field: "name" } },
    );
  if (token.hostId !== null) {
    if (!existing || existing.id !== token.hostId)
      throw new EtherplaneError(
        "CONFLICT",
        `host ${hostName} was removed or replaced since this token was made; make a new join token`,
      );
    return existing.id;
  }
  if (existing)
    throw new EtherplaneError(
      "CONFLICT",
      `host ${hostName} has joined already (${existing.id}); to replace it (a reinstalled machine), an admin makes a token with \`etherplane token create ${hostName} --role join --replace\`, which revokes the old agent's tokens`,
      { params: { field: "name" } },
    );
  return null;
}
