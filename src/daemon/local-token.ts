/**
 * `etherplane token create NAME --role admin --local`: a token made by writing the controller's
 * store directly, for root on the controller's host when no token is left (the first admin token
 * lost). Works with the controller running or not: SQLite in WAL mode lets a second connection
 * write (the store's writes are IMMEDIATE transactions that wait for each other's lock), and the
 * controller reads tokens from the store on every call. Whoever can write the store file can
 * already do anything the controller can; the file's mode (0600) is the check.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EtherplaneError } from "../foundation/errors.js";
import { AuditLog } from "../cluster/controller/audit-log.js";
import { AuthService } from "../cluster/controller/auth-service.js";
import type { Role, TokenRecord } from "../cluster/model.js";
import { openSqliteStore } from "../cluster/store/sqlite/index.js";
import { writeTokenFile } from "./token-file.js";

export const LOCAL_TOKEN_ROLES = ["admin", "operator", "viewer"] as const;
const NAME_CHARS_MAX = 64;

export function controllerStorePath(dataDir: string): string {
  return path.join(dataDir, "controller.db");
}

export async function createLocalToken(spec: {
  dataDir: string;
  name: string;
  role: Exclude<Role, "agent">;
  /** Where to save the secret; default DATA_DIR/NAME.token. */
  out?: string;
}): Promise<{ token: Omit<TokenRecord, "secretHash">; file: string }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(spec.name) || spec.name.length > NAME_CHARS_MAX)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `token name "${spec.name.slice(0, NAME_CHARS_MAX)}": use 1-${NAME_CHARS_MAX} of A-Z a-z 0-9 . _ - (starting with a letter or digit)`,
    );
  const storeFile = controllerStorePath(spec.dataDir);
  // Never make a store here: a wrong --data-dir would create an empty one and a useless token.
  if (!fs.existsSync(storeFile))
    throw new EtherplaneError(
      "NOT_FOUND",
      `no controller store at ${storeFile}: give the controller's data directory with --data-dir DIR`,
      { params: { file: storeFile } },
    );
  const file = spec.out ?? path.join(spec.dataDir, `${spec.name}.token`);
  if (fs.existsSync(file))
    throw new EtherplaneError(
      "CONFLICT",
      `${file} exists already; move it away, or name another file with --out FILE`,
      { params: { file } },
    );
  const store = await openSqliteStore(storeFile);
  try {
    const { token, secret } = await new AuthService(store).createToken({
      name: spec.name,
      role: spec.role,
    });
    try {
      writeTokenFile(file, secret, false);
    } catch (error) {
      // A token whose secret nobody has is of no use: take it back.
      await store.updateToken(token.id, { revoked: true });
      throw error;
    }
    await new AuditLog(store).record({
      timeMs: Date.now(),
      actor: `local:${os.userInfo().username}`,
      role: "local",
      method: "LOCAL",
      path: "etherplane token create --local",
      status: 201,
      result: "ok",
      subject: `token ${token.name} (${token.role}, ${token.id})`,
      detail: `secret saved in ${file}`,
    });
    const { secretHash: _hash, ...shown } = token;
    return { token: shown, file };
  } finally {
    await store.close();
  }
}
