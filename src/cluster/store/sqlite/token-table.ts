/** The tokens table (record-table.ts does what every table does). */
import type { TokenRecord } from "../../model.js";
import { SqliteRecordTable } from "./record-table.js";
import type { SqliteTables } from "./sqlite-tables.js";
import { rowToToken, tokenToRow, type TokenRow } from "./token-rows.js";

export class TokenTable extends SqliteRecordTable<TokenRecord, TokenRow> {
  constructor(t: SqliteTables) {
    super(t, { table: "tokens", kind: "token", toRow: tokenToRow, fromRow: rowToToken });
  }
  findBySecretHash(secretHash: string): TokenRecord | undefined {
    return this.by("secret_hash", secretHash);
  }
  list(): TokenRecord[] {
    return this.listWhere({}, "created_ms, rowid");
  }
}
