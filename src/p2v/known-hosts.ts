/**
 * Host key checks as OpenSSH does them (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): a known_hosts
 * line is `[marker] hosts keytype base64-key [comment]`; hosts are names or patterns separated by
 * commas, `[host]:port` for a port other than 22, or hashed as `|1|base64(salt)|base64(HMAC-SHA1
 * (salt, host))`. A `--host-key` pin is the key (`ssh-ed25519 AAAA...`) or its SHA256
 * fingerprint as `ssh-keygen -lf` prints it (`SHA256:...`, base64 without padding). Pure
 * (node:crypto computes, it does no I/O).
 */
import { createHash, createHmac } from "node:crypto";
import { EtherplaneError } from "../foundation/errors.js";

export const KNOWN_HOSTS_LINES_MAX = 100_000;

/** `host` as known_hosts names it: `[host]:port` unless the port is 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

function globMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return regex.test(name);
}

function hostMatches(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const [, , salt = "", hash = ""] = field.split("|");
    const mac = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return mac === hash;
  }
  let matched = false;
  for (const pattern of field.split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

export type HostKeyVerdict =
  { ok: true } | { ok: false; reason: "unknown" | "mismatch" | "revoked"; message: string };

/** Checks `key` (the SSH wire blob) for `host:port` against known_hosts text. */
export function checkKnownHosts(
  text: string,
  host: string,
  port: number,
  key: Buffer,
): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const lines = text.split("\n");
  if (lines.length > KNOWN_HOSTS_LINES_MAX)
    throw new EtherplaneError(
      "INVALID_CONFIG",
      `known_hosts has over ${KNOWN_HOSTS_LINES_MAX} lines`,
    );
  let listed = false;
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]?.startsWith("#")) continue;
    const marker = fields[0]?.startsWith("@") ? fields.shift() : undefined;
    const [hosts = "", , blob = ""] = fields;
    if (marker === "@cert-authority" || !hostMatches(hosts, name)) continue;
    const same = Buffer.from(blob, "base64").equals(key);
    if (marker === "@revoked") {
      if (same)
        return {
          ok: false,
          reason: "revoked",
          message: `${name}'s host key is marked @revoked in known_hosts`,
        };
      continue;
    }
    listed = true;
    if (same) return { ok: true };
  }
  return listed
    ? {
        ok: false,
        reason: "mismatch",
        message: `${name} offered host key ${fingerprint(key)}, which is NOT the one known_hosts lists for it: refusing (a changed server or a man in the middle); check it and fix known_hosts`,
      }
    : {
        ok: false,
        reason: "unknown",
        message: `${name} (key ${fingerprint(key)}) is not in known_hosts: connect once with ssh to check and record it, or pin it with --host-key ${fingerprint(key)} after checking it on the server (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)`,
      };
}

/** Checks `key` against a `--host-key` pin (a key line or a SHA256 fingerprint). */
export function checkPinnedKey(pin: string, host: string, key: Buffer): HostKeyVerdict {
  const trimmed = pin.trim();
  const same = trimmed.startsWith("SHA256:")
    ? trimmed.replace(/=+$/, "") === fingerprint(key)
    : Buffer.from(trimmed.split(/\s+/)[1] ?? "", "base64").equals(key);
  return same
    ? { ok: true }
    : {
        ok: false,
        reason: "mismatch",
        message: `${host} offered host key ${fingerprint(key)}, not the one --host-key pins: refusing (a changed server or a man in the middle)`,
      };
}

/** The --host-key pin's form, refused early when it is neither a key line nor a fingerprint. */
export function checkPinSyntax(pin: string): void {
  const t = pin.trim();
  if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(t)) return;
  if (/^(ssh-|ecdsa-|sk-)[a-z0-9@.-]+ [A-Za-z0-9+/]+=*( .*)?$/.test(t)) return;
  throw new EtherplaneError(
    "INVALID_ARGUMENT",
    "--host-key: give the server's key fingerprint as ssh-keygen -lf prints it (SHA256:...) or its public key line (ssh-ed25519 AAAA...)",
  );
}
