export { openSqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
export { IN_MEMORY, BUSY_TIMEOUT_MS } from "./open-database.js";
export { SCHEMA_VERSION_LATEST } from "./migrations.js";
export { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from "./list-limits.js";
