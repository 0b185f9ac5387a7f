/**
 * Opens the store's SQLite file: creates its folder, sets the connection up for crash safety and
 * brings the schema up to date. Only this file and the store touch the disk.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { EtherplaneError, errorMessage } from "../../../foundation/errors.js";
import { migrate } from "./migrations.js";

/** How long a statement waits for another connection's write lock before failing with TIMEOUT. */
export const BUSY_TIMEOUT_MS = 5000;

/** SQLite's name for a private database in memory (no file, gone on close): for tests. */
export const IN_MEMORY = ":memory:";

/**
 * WAL: readers do not block the writer and a crash mid-write leaves the last committed state
 * (https://www.sqlite.org/wal.html). synchronous=FULL: a write is on disk once its call resolves,
 * at the cost of one more fsync per transaction (control-plane writes are few).
 * foreign_keys: SQLite leaves them off unless each connection asks.
 */
function configure(db: Database.Database, file: string): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const journal = db.pragma("journal_mode = WAL", { simple: true });
  const wanted = file === IN_MEMORY ? "memory" : "wal";
  if (journal !== wanted) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      `the store ${file} cannot use write-ahead logging (journal mode is ${String(journal)}); put it on a local file system`,
    );
  }
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  if (db.pragma("foreign_keys", { simple: true }) !== 1) {
    throw new EtherplaneError("UNAVAILABLE", "this SQLite build cannot enforce foreign keys");
  }
}

/** Makes `file` mode 0600 (creating it empty when `create`), unless it is so already. */
function privateFile(file: string, create: boolean): void {
  let fd: number;
  try {
    fd = fs.openSync(file, create ? "a" : "r", 0o600);
  } catch (cause) {
    if (!create && (cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw cause;
  }
  try {
    if ((fs.fstatSync(fd).mode & 0o777) !== 0o600) fs.fchmodSync(fd, 0o600);
  } finally {
    fs.closeSync(fd);
  }
}

/** Opens (creating if needed) and migrates the database at `file`. */
export function openDatabase(file: string, nowMs: () => number): Database.Database {
  const inMemory = file === IN_MEMORY;
  if (!inMemory) {
    try {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new EtherplaneError(
        "IO_ERROR",
        `cannot create the folder of the store ${file}: ${errorMessage(cause)}`,
        { cause },
      );
    }
  }
  let db: Database.Database | undefined;
  try {
    // The file holds token hashes and the audit log: readable by the controller's user alone.
    // Made 0600 before SQLite opens it, because SQLite gives its -wal and -shm files the mode of
    // the database file (sqlite3.c, findCreateFileMode).
    if (!inMemory) privateFile(file, true);
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    configure(db, file);
    migrate(db, file, nowMs);
    // Files an older etherplane left 0644.
    if (!inMemory) for (const suffix of ["-wal", "-shm"]) privateFile(file + suffix, false);
    return db;
  } catch (cause) {
    db?.close();
    if (cause instanceof EtherplaneError) throw cause;
    throw new EtherplaneError("IO_ERROR", `cannot open the store ${file}: ${errorMessage(cause)}`, {
      cause,
    });
  }
}
