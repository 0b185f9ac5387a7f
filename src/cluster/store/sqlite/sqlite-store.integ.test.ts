/**
 * The Store contract on a real SQLite file, plus what only a file shows: the folder and file it
 * creates, the journal and schema on disk, a file that is not a database, and surviving a writer
 * killed mid-write.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { isEtherplaneError } from "../../../foundation/errors.js";
import type { Store } from "../store.js";
import { domainStoreContract } from "../domain-store.contract.js";
import { storeContract } from "../store.contract.js";
import { crashAudit, crashVolume, CRASH_UPDATE } from "./crash-writer.child.js";
import { SCHEMA_VERSION_LATEST } from "./migrations.js";
import { openSqliteStore } from "./sqlite-store.js";

/** On the machine's disk rather than tmpfs: fsync and the WAL do real work there. */
const BASE = fs.existsSync("/var/tmp") ? "/var/tmp" : os.tmpdir();
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A path in a fresh folder, inside a subfolder that does not exist yet. */
function freshFile(): string {
  const dir = fs.mkdtempSync(path.join(BASE, "ep-store-"));
  dirs.push(dir);
  return path.join(dir, "state", "controller.db");
}

function raw(file: string): Database.Database {
  return new Database(file, { fileMustExist: true });
}

domainStoreContract("SQLite file", () => openSqliteStore(freshFile()));

storeContract(
  "SQLite file",
  async () => {
    const file = freshFile();
    return {
      store: await openSqliteStore(file),
      reopen: () => openSqliteStore(file),
      fromTheFuture: () => {
        const db = raw(file);
        const future = SCHEMA_VERSION_LATEST + 1;
        db.prepare("INSERT INTO schema_migrations VALUES (?, 'from the future', 0)").run(future);
        db.close();
        return Promise.resolve(future);
      },
    };
  },
  { persistent: true },
);

test("creates its folder and a private file in WAL mode with STRICT tables", async () => {
  const file = freshFile();
  const startMs = Date.now();
  const store = await openSqliteStore(file);
  try {
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    const db = raw(file);
    try {
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      const applied = db
        .prepare("SELECT * FROM schema_migrations ORDER BY version")
        .all() as Array<{
        version: number;
        name: string;
        applied_ms: number;
      }>;
      assert.deepEqual(
        applied.map((m) => m.version),
        Array.from({ length: SCHEMA_VERSION_LATEST }, (_, i) => i + 1),
      );
      for (const m of applied) assert.ok(m.applied_ms >= startMs && m.applied_ms <= Date.now());
      const tables = db.prepare("PRAGMA table_list").all() as Array<{
        name: string;
        strict: number;
      }>;
      for (const name of ["hosts", "pools", "volumes", "tasks", "tokens", "audit"]) {
        assert.equal(tables.find((t) => t.name === name)?.strict, 1, `table ${name} is STRICT`);
      }
    } finally {
      db.close();
    }
    assert.equal(await store.schemaVersion(), SCHEMA_VERSION_LATEST);
  } finally {
    await store.close();
  }
});

test("opening again applies no migration twice", async () => {
  const file = freshFile();
  await (await openSqliteStore(file)).close();
  const db = raw(file);
  const before = db.prepare("SELECT * FROM schema_migrations").all();
  await (await openSqliteStore(file)).close();
  assert.deepEqual(db.prepare("SELECT * FROM schema_migrations").all(), before);
  db.close();
});

test("a file that is not a SQLite database is refused with IO_ERROR, left as it was", async () => {
  const file = freshFile();
  fs.mkdirSync(path.dirname(file));
  const junk = Buffer.alloc(8192, 0x5a);
  fs.writeFileSync(file, junk);
  await assert.rejects(openSqliteStore(file), (error: unknown) => {
    assert.ok(isEtherplaneError(error, "IO_ERROR"), String(error));
    assert.match(error.message, /controller\.db/);
    return true;
  });
  assert.ok(fs.readFileSync(file).equals(junk));
});

/** Runs the crash writer until it has committed `writesMin` volumes, then SIGKILLs it. */
async function killMidWrite(
  file: string,
  round: number,
  pool: { id: string; hostId: string },
  writesMin: number,
): Promise<number> {
  const child = fileURLToPath(new URL("./crash-writer.child.js", import.meta.url));
  const writer = spawn(process.execPath, [child, file, String(round), pool.id, pool.hostId], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let printed = "";
  let stderr = "";
  writer.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    writer.on("exit", (_code, signal) => resolve(signal)),
  );
  let killing = false;
  await new Promise<void>((resolve) => {
    writer.stdout.on("data", (chunk: Buffer) => {
      printed += chunk.toString();
      if (!killing && printed.split("\n").length > writesMin) {
        killing = true;
        // A random moment after, so the kill lands anywhere in a transaction.
        setTimeout(() => writer.kill("SIGKILL"), Math.random() * 20);
        resolve();
      }
    });
    void exited.then(() => resolve());
  });
  assert.equal(await exited, "SIGKILL", `the writer died before it was killed: ${stderr}`);
  const numbers = printed.split("\n").filter((l) => l !== "");
  return Number(numbers.at(-1));
}

/** Every volume and audit entry of `round` is whole: exactly what the writer wrote, no part. */
async function assertWholeRecords(
  store: Store,
  round: number,
  pool: { id: string; hostId: string },
  lastCommitted: number,
): Promise<void> {
  const volumes = (await store.listVolumes()).filter((v) => v.name.startsWith(`r${round}-`));
  assert.ok(volumes.length >= lastCommitted + 1, `${volumes.length} volumes, ${lastCommitted}`);
  for (let i = 0; i < volumes.length; i++) {
    const written = crashVolume(round, i, pool);
    const stored = await store.getVolume(written.id);
    const updated = { ...written, ...CRASH_UPDATE, generation: 2 };
    assert.ok(stored, `volume ${i} of ${volumes.length} is there`);
    assert.deepEqual(stored, stored.generation === 1 ? written : updated);
    // Volume i is updated right after volume i+1's audit entry: only the newest may lag.
    if (i < volumes.length - 2) assert.equal(stored.generation, 2, `volume ${i} was updated`);
  }
  const ofRound = new RegExp(`^/api/v1/volumes/r${round}-v\\d+$`);
  const audit = (await store.listAudit({ limit: 10_000 })).filter((a) => ofRound.test(a.path));
  assert.ok(audit.length === volumes.length || audit.length === volumes.length - 1);
  audit.forEach((entry, i) => assert.deepEqual(entry, { id: entry.id, ...crashAudit(round, i) }));
}

test("a writer killed mid-write leaves a sound database of whole records", async () => {
  const file = freshFile();
  const setup = await openSqliteStore(file);
  const pool = { id: "pool-crash", hostId: "host-crash" };
  await setup.createHost({
    ...{ id: pool.hostId, name: "crash", roles: ["storage"], exportInterfaces: [] },
    ...{ inventory: null, lastSeenMs: null, maintenance: null, createdMs: 1 },
  });
  await setup.createPool({
    ...{ id: pool.id, name: "crash", hostId: pool.hostId, kind: "directory", path: "/x" },
    ...{ devices: [], capacityBytes: null, freeBytes: null, createdMs: 1 },
  });
  await setup.close();

  for (let round = 1; round <= 3; round++) {
    const lastCommitted = await killMidWrite(file, round, pool, 100 + round * 50);
    const db = raw(file);
    try {
      assert.deepEqual(db.pragma("integrity_check"), [{ integrity_check: "ok" }]);
      assert.deepEqual(db.pragma("foreign_key_check"), []);
    } finally {
      db.close();
    }
    const store = await openSqliteStore(file);
    try {
      for (let r = 1; r <= round; r++) await assertWholeRecords(store, r, pool, 0);
      await assertWholeRecords(store, round, pool, lastCommitted);
    } finally {
      await store.close();
    }
  }
});
