/**
 * Turns SQLite's errors into the Store's: a clash with a unique key is CONFLICT naming what
 * clashes, a reference to a missing record is NOT_FOUND naming it, a value the schema refuses is
 * INVALID_ARGUMENT, a lock held too long is TIMEOUT, anything else from SQLite is IO_ERROR.
 * Constraint codes: https://www.sqlite.org/rescode.html#constraint
 */
import Database from "better-sqlite3";
import { EtherplaneError } from "../../../foundation/errors.js";
import type { RecordTable } from "./rows.js";

/** What the explanations may look up, in the transaction that failed. */
export interface ConstraintLookups {
  hostExists(id: string): boolean;
  poolHostId(poolId: string): string | undefined;
  volumeNameAt(shelf: number, slot: number, exceptId: string): string | undefined;
  /** The domain whose vif has this MAC. */
  macHolder(mac: string): string | undefined;
}

/** The row being written, as bound to the statement (snake_case columns). */
type BoundRow = Readonly<Record<string, unknown>>;

const text = (value: unknown): string => String(value);

/** Keyed by SQLite's "table.column, table.column" list of the failed unique key. */
const UNIQUE_MESSAGES: Record<string, (row: BoundRow, lookups: ConstraintLookups) => string> = {
  "hosts.id": (r) => `host id "${text(r.id)}" exists`,
  "hosts.name": (r) => `host name "${text(r.name)}" is taken`,
  "pools.id": (r) => `pool id "${text(r.id)}" exists`,
  "pools.host_id,pools.name": (r) =>
    `pool name "${text(r.name)}" is taken on host "${text(r.host_id)}"`,
  "volumes.id": (r) => `volume id "${text(r.id)}" exists`,
  "volumes.name": (r) => `volume name "${text(r.name)}" is taken`,
  "volumes.shelf,volumes.slot": (r, lookups) => {
    const holder = lookups.volumeNameAt(Number(r.shelf), Number(r.slot), text(r.id));
    const by = holder === undefined ? "" : ` by volume "${holder}"`;
    return `AoE address e${text(r.shelf)}.${text(r.slot)} is taken${by}`;
  },
  "tasks.id": (r) => `task id "${text(r.id)}" exists`,
  "networks.id": (r) => `network id "${text(r.id)}" exists`,
  "networks.host_id,networks.name": (r) =>
    `network name "${text(r.name)}" is taken on host "${text(r.host_id)}"`,
  "networks.host_id,networks.bridge": (r) =>
    `bridge "${text(r.bridge)}" already belongs to another network on host "${text(r.host_id)}"`,
  "domains.id": (r) => `domain id "${text(r.id)}" exists`,
  "domains.name": (r) => `domain name "${text(r.name)}" is taken`,
  "domains.uuid": (r) => `domain uuid "${text(r.uuid)}" is taken`,
  "domain_macs.mac": (r, lookups) => {
    const holder = lookups.macHolder(text(r.mac));
    return `MAC ${text(r.mac)} is taken${holder === undefined ? "" : ` by domain "${holder}"`}`;
  },
  "tokens.id": (r) => `token id "${text(r.id)}" exists`,
  // Never print a secret's hash: it is as good as a name for the secret in logs.
  "tokens.secret_hash": () => "a token with this secret already exists",
};

/** The columns SQLite names in "UNIQUE constraint failed: volumes.shelf, volumes.slot". */
export function uniqueKeyOf(message: string): string | undefined {
  const match = /^UNIQUE constraint failed: (.+)$/.exec(message);
  return match?.[1]?.replace(/\s+/g, "");
}

/** Why a foreign key failed: the statement does not say which reference, so look them up. */
function explainForeignKey(
  table: RecordTable | "domain_macs",
  row: BoundRow,
  lookups: ConstraintLookups,
): EtherplaneError {
  const hostId = row.host_id === null || row.host_id === undefined ? undefined : text(row.host_id);
  if (table === "volumes") {
    const poolHost = lookups.poolHostId(text(row.pool_id));
    if (poolHost === undefined) {
      return new EtherplaneError("NOT_FOUND", `pool "${text(row.pool_id)}" does not exist`, {
        params: { poolId: row.pool_id },
      });
    }
    return new EtherplaneError(
      "INVALID_ARGUMENT",
      `volume "${text(row.name)}" names host "${hostId}" but its pool "${text(row.pool_id)}" is on host "${poolHost}"`,
    );
  }
  if (hostId !== undefined && !lookups.hostExists(hostId)) {
    return new EtherplaneError("NOT_FOUND", `host "${hostId}" does not exist`, {
      params: { hostId },
    });
  }
  if (table === "pools") {
    return new EtherplaneError(
      "CONFLICT",
      `pool "${text(row.name)}" holds volumes, so it cannot move to another host`,
    );
  }
  return new EtherplaneError("CONFLICT", `a ${table} record is still referenced`);
}

/**
 * The Store error for `error`, thrown while writing `row` into `table`; `error` itself when it is
 * not SQLite's (a bug of ours, to crash loudly).
 */
export function constraintError(
  error: unknown,
  table: RecordTable | "domain_macs",
  row: BoundRow,
  lookups: ConstraintLookups,
): unknown {
  if (!(error instanceof Database.SqliteError) || !error.code.startsWith("SQLITE_CONSTRAINT")) {
    return error;
  }
  if (error.code === "SQLITE_CONSTRAINT_UNIQUE" || error.code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    const key = uniqueKeyOf(error.message);
    const describe = key === undefined ? undefined : UNIQUE_MESSAGES[key];
    const message = describe ? describe(row, lookups) : `${table}: ${error.message}`;
    return new EtherplaneError("CONFLICT", message, { cause: error, params: { key } });
  }
  if (error.code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
    const explained = explainForeignKey(table, row, lookups);
    return new EtherplaneError(explained.code, explained.message, {
      cause: error,
      params: explained.params,
    });
  }
  // CHECK, NOT NULL, DATATYPE (STRICT tables): a value the schema refuses.
  return new EtherplaneError(
    "INVALID_ARGUMENT",
    `${table} record "${text(row.id)}" is refused by the store: ${error.message}`,
    { cause: error },
  );
}

/** The Store error for anything else SQLite throws (locks, disk, corruption). */
export function storeError(error: unknown, label: string): unknown {
  if (!(error instanceof Database.SqliteError)) return error;
  if (error.code.startsWith("SQLITE_BUSY") || error.code.startsWith("SQLITE_LOCKED")) {
    return new EtherplaneError(
      "TIMEOUT",
      `the store ${label} stayed locked by another connection: ${error.message}`,
      { cause: error, params: { sqliteCode: error.code } },
    );
  }
  return new EtherplaneError("IO_ERROR", `the store ${label} failed: ${error.message}`, {
    cause: error,
    params: { sqliteCode: error.code },
  });
}
