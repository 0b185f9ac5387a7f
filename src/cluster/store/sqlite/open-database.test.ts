/**
 * The store's files are private whatever the umask: the database and SQLite's own -wal and -shm
 * files (which SQLite creates with the database file's mode) are 0600, its new folder 0700, and
 * files an older etherplane left 0644 are made 0600 when opened.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { openSqliteStore } from "./index.js";

let dir: string;
let umask: number;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-store-modes-"));
  // The usual default umask, which made the -wal and -shm files 0644.
  umask = process.umask(0o022);
});

after(() => {
  process.umask(umask);
  fs.rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string) => (fs.statSync(file).mode & 0o777).toString(8);

test("a new store: folder 0700, database, -wal and -shm 0600", async () => {
  const file = path.join(dir, "new", "controller.db");
  const store = await openSqliteStore(file);
  try {
    await store.appendAudit({
      timeMs: 1,
      actor: "a",
      role: "admin",
      method: "POST",
      path: "/",
      status: 200,
      result: "ok",
      subject: null,
      detail: null,
    });
    assert.equal(mode(path.dirname(file)), "700");
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      assert.ok(fs.existsSync(f), `${f} exists while the store is open`);
      assert.equal(mode(f), "600", f);
    }
  } finally {
    await store.close();
  }
});

test("files left 0644 by an older etherplane are made 0600 on open", async () => {
  const file = path.join(dir, "old.db");
  const first = await openSqliteStore(file);
  await first.close();
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(`${file}-shm`, "", { mode: 0o644 });
  fs.chmodSync(`${file}-shm`, 0o644);
  const store = await openSqliteStore(file);
  try {
    await store.listHosts();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(mode(f), "600", f);
  } finally {
    await store.close();
  }
});
