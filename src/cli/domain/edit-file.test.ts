import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { editFilePath, openEditFile } from "./edit-file.js";

describe("domain edit's file", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(join(tmpdir(), "ep-edit-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is a fixed file per user and domain in the user's config folder, not in /tmp", () => {
    const env = { XDG_CONFIG_HOME: join(dir, "cfg") };
    assert.equal(editFilePath("dom_1", env), join(dir, "cfg", "etherplane", "edits", "dom_1.cfg"));
    assert.equal(editFilePath("dom_1", env), editFilePath("dom_1", env));
    assert.throws(() => editFilePath("../../x", env), /not a file name inside/);
  });

  it("is made 0600 in a 0700 folder; an earlier kept edit is resumed, not overwritten", () => {
    const file = join(dir, "a", "edits", "dom_1.cfg");
    assert.deepEqual(openEditFile(file, "memory = 1\n"), { resumed: false });
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(join(dir, "a", "edits")).mode & 0o777, 0o700);
    fs.writeFileSync(file, "memory = 2\n");
    assert.deepEqual(openEditFile(file, "memory = 1\n"), { resumed: true });
    assert.equal(fs.readFileSync(file, "utf8"), "memory = 2\n");
  });

  it("follows no planted symlink and refuses a folder others can write", () => {
    const edits = join(dir, "b", "edits");
    fs.mkdirSync(edits, { recursive: true, mode: 0o700 });
    const victim = join(dir, "victim");
    fs.writeFileSync(victim, "precious\n");
    fs.symlinkSync(victim, join(edits, "dom_1.cfg"));
    assert.throws(() => openEditFile(join(edits, "dom_1.cfg"), "x"), /not a regular file/);
    assert.equal(fs.readFileSync(victim, "utf8"), "precious\n");
    const open = join(dir, "c", "edits");
    fs.mkdirSync(open, { recursive: true });
    fs.chmodSync(open, 0o777);
    assert.throws(() => openEditFile(join(open, "dom_1.cfg"), "x"), /chmod 700/);
  });
});
