/** The file state store with real files: which backing a state file belongs to, and what moves aside. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { macToString, parseMac } from "../codec/index.js";
import {
  FileExportStateStore,
  MemoryExportStateStore,
  SET_ASIDE_FILES_MAX,
  emptyExportState,
  type ExportState,
} from "./export-state.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "ep-export-state-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let dirs = 0;

/** A state directory and two backing files, a.img and b.img. */
function bench() {
  const dir = path.join(root, `t${dirs++}`);
  fs.mkdirSync(dir);
  const a = path.join(dir, "a.img");
  const b = path.join(dir, "b.img");
  fs.writeFileSync(a, "a");
  fs.writeFileSync(b, "b");
  return { dir, state: path.join(dir, "state"), a, b };
}

const mac = (text: string) => parseMac(text) as Buffer;
const masked: ExportState = {
  macMask: [mac("02:00:00:00:00:0a")],
  reservation: [mac("02:00:00:00:00:0b")],
  configString: Buffer.from("vm=web01"),
};
const names = (state: ExportState) => ({
  macMask: state.macMask.map(macToString),
  reservation: state.reservation.map(macToString),
  configString: state.configString.toString(),
});

test("another file at the same address does not inherit the state: it is moved aside", async () => {
  const { state, a, b } = bench();
  const first = new FileExportStateStore(state);
  const loadedA = await first.load("1.0", { path: a });
  assert.equal(loadedA.origin, "new");
  await first.save("1.0", loadedA.backing, masked);

  // A restart serving b.img at 1.0.
  const second = new FileExportStateStore(state, undefined, () => 1700000000000);
  const loadedB = await second.load("1.0", { path: b });
  assert.equal(loadedB.origin, "set-aside");
  assert.deepEqual(names(loadedB.state), names(emptyExportState()));
  assert.equal(loadedB.previous?.backing.path, a);
  assert.deepEqual(names(loadedB.previous.state), names(masked));
  const movedTo = path.join(state, "export-1.0.json.stale-1700000000000");
  assert.equal(loadedB.previous.movedTo, movedTo);
  assert.equal(fs.existsSync(path.join(state, "export-1.0.json")), false);
  const kept = JSON.parse(fs.readFileSync(movedTo, "utf8")) as { macMask: string[] };
  assert.deepEqual(kept.macMask, ["02:00:00:00:00:0a"], "the old state is kept for inspection");

  // b.img's own edits are recorded for b.img, and a.img coming back does not get them.
  await second.save("1.0", loadedB.backing, {
    ...emptyExportState(),
    configString: Buffer.from("b"),
  });
  assert.equal((await new FileExportStateStore(state).load("1.0", { path: b })).origin, "kept");
  assert.equal(
    (await new FileExportStateStore(state).load("1.0", { path: a })).origin,
    "set-aside",
  );
});

test("the same file keeps its state across a restart, and a renamed one too", async () => {
  const { state, a, dir } = bench();
  const store = new FileExportStateStore(state);
  const loaded = await store.load("2.1", { path: a });
  await store.save("2.1", loaded.backing, masked);

  const again = await new FileExportStateStore(state).load("2.1", { path: a });
  assert.equal(again.origin, "kept");
  assert.equal(again.rewrite, false);
  assert.deepEqual(names(again.state), names(masked));

  const renamed = path.join(dir, "renamed.img");
  fs.renameSync(a, renamed);
  const moved = await new FileExportStateStore(state).load("2.1", { path: renamed });
  assert.equal(moved.origin, "kept");
  assert.equal(moved.rewrite, true, "the record is rewritten with the new path");
  assert.deepEqual(names(moved.state), names(masked));
});

test("a file replaced at the same path (a new inode) is another disk", async () => {
  const { state, a } = bench();
  const store = new FileExportStateStore(state);
  const loaded = await store.load("1.0", { path: a });
  await store.save("1.0", loaded.backing, masked);
  // Create the new file before removing the old one, so the inode number cannot be reused.
  fs.writeFileSync(`${a}.new`, "new disk");
  fs.renameSync(`${a}.new`, a);
  const replaced = await new FileExportStateStore(state).load("1.0", { path: a });
  assert.equal(replaced.origin, "set-aside");
  assert.equal(replaced.state.macMask.length, 0);
});

test("a volume id decides: the same volume at a new path keeps it, another volume does not", async () => {
  const { state, a, b } = bench();
  const store = new FileExportStateStore(state);
  const loaded = await store.load("5.0", { path: a, volumeId: "vol-1" });
  await store.save("5.0", loaded.backing, masked);
  const sameVolume = await new FileExportStateStore(state).load("5.0", {
    path: b,
    volumeId: "vol-1",
  });
  assert.equal(sameVolume.origin, "kept");
  assert.deepEqual(names(sameVolume.state), names(masked));
  const other = await new FileExportStateStore(state).load("5.0", { path: b, volumeId: "vol-2" });
  assert.equal(other.origin, "set-aside");
  assert.equal(other.previous?.backing.volumeId, "vol-1");
});

test("a state file from before backings were recorded is adopted once, then kept", async () => {
  const { state, a, b } = bench();
  fs.mkdirSync(state);
  fs.writeFileSync(
    path.join(state, "export-1.0.json"),
    JSON.stringify({
      version: 1,
      macMask: ["02:00:00:00:00:0a"],
      reservation: [],
      configStringHex: "",
    }),
  );
  const store = new FileExportStateStore(state);
  const adopted = await store.load("1.0", { path: a });
  assert.equal(adopted.origin, "adopted");
  assert.equal(adopted.rewrite, true);
  assert.deepEqual(adopted.state.macMask.map(macToString), ["02:00:00:00:00:0a"]);
  await store.save("1.0", adopted.backing, adopted.state);
  const file = JSON.parse(fs.readFileSync(path.join(state, "export-1.0.json"), "utf8")) as {
    version: number;
    backing: { path: string };
  };
  assert.equal(file.version, 2);
  assert.equal(file.backing.path, a);
  assert.equal(
    (await new FileExportStateStore(state).load("1.0", { path: b })).origin,
    "set-aside",
  );
});

test("a corrupt file names the way out, and --reset-state's reset clears it", async () => {
  const { state, a } = bench();
  fs.mkdirSync(state);
  const file = path.join(state, "export-3.0.json");
  fs.writeFileSync(file, "{ not json");
  const store = new FileExportStateStore(state, undefined, () => 42);
  await assert.rejects(
    store.load("3.0", { path: a }),
    (e) => isEtherplaneError(e, "INVALID_CONFIG") && /--reset-state 3\.0/.test(e.message),
  );
  fs.writeFileSync(file, JSON.stringify({ version: 2, backing: { path: "", kind: "file" } }));
  await assert.rejects(store.load("3.0", { path: a }), /backing: path is not/);
  const cleared = await store.reset("3.0");
  assert.equal(cleared?.movedTo, `${file}.reset-42`);
  assert.equal(fs.existsSync(file), false);
  assert.equal((await store.load("3.0", { path: a })).origin, "new");
});

test("reset moves the file aside and returns what it held; keys lists the addresses", async () => {
  const { state, a, b } = bench();
  const store = new FileExportStateStore(state, undefined, () => 7);
  assert.deepEqual(await store.keys(), []);
  await store.save("1.0", (await store.load("1.0", { path: a })).backing, masked);
  await store.save("1.1", (await store.load("1.1", { path: b })).backing, emptyExportState());
  assert.deepEqual(await store.keys(), ["1.0", "1.1"]);
  const cleared = await store.reset("1.0");
  assert.ok(cleared);
  assert.deepEqual(names(cleared.state), names(masked));
  assert.equal(cleared.backing?.path, a);
  assert.equal(fs.readFileSync(cleared.movedTo, "utf8").includes("02:00:00:00:00:0a"), true);
  assert.deepEqual(await store.keys(), ["1.1"]);
  assert.equal(await store.reset("1.0"), undefined, "nothing left to clear");
  assert.equal((await store.load("1.0", { path: a })).origin, "new");
});

test(`at most ${SET_ASIDE_FILES_MAX} files moved aside are kept per export, the newest`, async () => {
  const { state, a, b } = bench();
  let now = 1000;
  const store = new FileExportStateStore(state, undefined, () => now++);
  for (let i = 0; i < SET_ASIDE_FILES_MAX + 3; i++) {
    const loaded = await store.load("1.0", { path: i % 2 === 0 ? a : b });
    await store.save("1.0", loaded.backing, masked);
  }
  const aside = fs.readdirSync(state).filter((name) => name.startsWith("export-1.0.json.stale-"));
  assert.equal(aside.length, SET_ASIDE_FILES_MAX);
  assert.ok(aside.includes(`export-1.0.json.stale-${now - 1}`), "the newest is kept");
  assert.ok(!aside.includes("export-1.0.json.stale-1000"), "the oldest is gone");
});

test("a backing that cannot be found is an I/O error naming the path", async () => {
  const { state, dir } = bench();
  await assert.rejects(
    new FileExportStateStore(state).load("1.0", { path: path.join(dir, "missing.img") }),
    (e) => isEtherplaneError(e, "IO_ERROR") && /missing\.img/.test(e.message),
  );
});

test("the memory fake follows the same rules by path and volume id", async () => {
  const store = new MemoryExportStateStore();
  const loaded = await store.load("1.0", { path: "/a" });
  await store.save("1.0", loaded.backing, masked);
  assert.equal((await store.load("1.0", { path: "/a" })).origin, "kept");
  const other = await store.load("1.0", { path: "/b" });
  assert.equal(other.origin, "set-aside");
  assert.equal(store.setAside.length, 1);
  assert.equal((await store.load("1.0", { path: "/b" })).origin, "new");
});
