import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  consoleHistoryBytesMax,
  consoleLogBytesMax,
  listRunDirNames,
  readConsoleHistory,
  readExit,
  readRecord,
  runDirOf,
  trimConsoleLog,
  writeExit,
} from "./run-dir.js";

let stateDir: string;
before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "ep-rundir-"));
});
after(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

void test("a record that is missing, not JSON or of another version is no record", async () => {
  const run = runDirOf(stateDir, "g1");
  await mkdir(run.dir);
  assert.equal(await readRecord(run), undefined);
  await writeFile(run.record, "{ half written");
  assert.equal(await readRecord(run), undefined);
  await writeFile(run.record, JSON.stringify({ version: 99, domid: 1, spec: {} }));
  assert.equal(await readRecord(run), undefined);
  assert.deepEqual(await listRunDirNames(stateDir), ["g1"]);
  assert.deepEqual(await listRunDirNames(join(stateDir, "absent")), []);
});

void test("the exit file holds one of the three reasons or nothing", async () => {
  const run = runDirOf(stateDir, "g2");
  await mkdir(run.dir);
  assert.equal(await readExit(run), null);
  await writeExit(run, "reboot");
  assert.equal(await readExit(run), "reboot");
  await writeFile(run.exit, "explode\n");
  assert.equal(await readExit(run), null);
});

void test("the console log is cut back to its tail; history joins both files, bounded", async () => {
  const run = runDirOf(stateDir, "g3");
  await mkdir(run.dir);
  assert.equal((await readConsoleHistory(run)).length, 0);
  const line = (i: number) => `line ${String(i).padStart(7, "0")}\n`; // 13 bytes
  const lines = Math.ceil((consoleLogBytesMax + 1) / 13);
  await writeFile(run.consoleLog, Array.from({ length: lines }, (_, i) => line(i)).join(""));
  await trimConsoleLog(run);
  assert.equal((await stat(run.consoleLog)).size, 0);
  const previous = await readFile(run.consoleLogPrevious, "utf8");
  assert.equal(previous.length, consoleHistoryBytesMax);
  assert.ok(previous.endsWith(line(lines - 1)));
  await writeFile(run.consoleLog, "after the cut\n", { flag: "a" });
  const history = (await readConsoleHistory(run)).toString();
  assert.equal(history.length, consoleHistoryBytesMax);
  assert.ok(history.endsWith(line(lines - 1) + "after the cut\n"));
  // A small log is left alone.
  await trimConsoleLog(run);
  assert.equal(await readFile(run.consoleLog, "utf8"), "after the cut\n");
});

test("run directory paths stay inside the state directory: a name that climbs out is refused (issue 10)", () => {
  assert.equal(runDirOf("/var/lib/ep/qemu", "web1").pidFile, "/var/lib/ep/qemu/web1/qemu.pid");
  for (const name of ["../../../../etc/x", "..", "a/b", ""]) {
    assert.throws(() => runDirOf("/var/lib/ep/qemu", name), /not a file name inside/, name);
  }
});
