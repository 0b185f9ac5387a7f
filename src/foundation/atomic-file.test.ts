import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { createFileSync, replaceFile, replaceFileSync, temporaryPrefix } from "./atomic-file.js";

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "ep-atomic-"));
}

const leftovers = (dir: string, file: string) =>
  fs.readdirSync(dir).filter((name) => name.startsWith(temporaryPrefix(file)));

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

for (const [name, replace] of [
  [
    "replaceFileSync",
    (f: string, d: string, m?: number) => Promise.resolve().then(() => replaceFileSync(f, d, m)),
  ],
  ["replaceFile", replaceFile],
] as const) {
  test(`${name}: creates, then replaces, with exactly the mode asked whatever the umask`, async () => {
    const dir = scratch();
    const file = path.join(dir, "state.json");
    const umask = process.umask(0o077);
    try {
      await replace(file, "one\n", 0o644);
      assert.equal(fs.readFileSync(file, "utf8"), "one\n");
      assert.equal(modeOf(file), 0o644, "the umask took bits from the mode");
      await replace(file, "two\n");
      assert.equal(fs.readFileSync(file, "utf8"), "two\n");
      assert.equal(modeOf(file), 0o600, "the default mode is 0600");
      assert.deepEqual(leftovers(dir, file), []);
    } finally {
      process.umask(umask);
      fs.rmSync(dir, { recursive: true });
    }
  });

  test(`${name}: a failed rename keeps what was there and leaves no temporary`, async () => {
    const dir = scratch();
    const file = path.join(dir, "occupied");
    fs.mkdirSync(file);
    fs.writeFileSync(path.join(file, "inside"), "kept");
    try {
      await assert.rejects(replace(file, "new"), (error: NodeJS.ErrnoException) =>
        ["EISDIR", "ENOTEMPTY", "EEXIST"].includes(error.code ?? ""),
      );
      assert.equal(fs.readFileSync(path.join(file, "inside"), "utf8"), "kept");
      assert.deepEqual(leftovers(dir, file), []);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  test(`${name}: a missing directory is the caller's error (ENOENT), nothing is made`, async () => {
    const dir = scratch();
    const file = path.join(dir, "absent", "state.json");
    try {
      await assert.rejects(replace(file, "x"), { code: "ENOENT" });
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
}

test("createFileSync: makes a new file, and never overwrites an existing one", () => {
  const dir = scratch();
  const file = path.join(dir, "admin.token");
  const umask = process.umask(0o022);
  try {
    createFileSync(file, "secret\n");
    assert.equal(fs.readFileSync(file, "utf8"), "secret\n");
    assert.equal(modeOf(file), 0o600);
    assert.throws(() => createFileSync(file, "other\n"), { code: "EEXIST" });
    assert.equal(fs.readFileSync(file, "utf8"), "secret\n", "the existing file was changed");
  } finally {
    process.umask(umask);
    fs.rmSync(dir, { recursive: true });
  }
});
