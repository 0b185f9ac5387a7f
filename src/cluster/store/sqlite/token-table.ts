/** The tokens table: reads and writes inside the store's transactions (sqlite-store.ts). */
import type { TokenRecord } from "../../model.js";
import type { Patch } from "../store.js";
import type { SqliteTables } from "./sqlite-tables.js";
import { rowToToken, tokenToRow, type TokenRow } from "./token-rows.js";

export class TokenTable {
  constructor(private readonly t: SqliteTables) {}

  create(token: TokenRecord): void {
    this.t.insert("tokens", tokenToRow(token));
  }
  findBySecretHash(secretHash: string): TokenRecord | undefined {
    return this.t.byKey("tokens", "secret_hash", secretHash, rowToToken);
  }
  list(): TokenRecord[] {
    return this.t.rows<TokenRow>("SELECT * FROM tokens ORDER BY created_ms, rowid").map(rowToToken);
  }
  update(id: string, patch: Patch<TokenRecord>): TokenRecord {
    return this.t.patch("tokens", "token", id, patch, tokenToRow, rowToToken);
  }
}
