import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { applyEdits } from "./apply-edits.js";

test("edits land inside the copy; a symlink on the way is refused and nothing outside changes", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-p2v-edits-"));
  try {
    const copy = path.join(dir, "copy");
    const outside = path.join(dir, "host-etc");
    fs.mkdirSync(path.join(copy, "etc"), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, "securetty"), "host\n");
    fs.writeFileSync(path.join(copy, "etc/fstab"), "old\n");
    fs.chmodSync(path.join(copy, "etc/fstab"), 0o600);
    // The copy's /etc/securetty and /etc/alt point out of it (absolute and relative).
    fs.symlinkSync(path.join(outside, "securetty"), path.join(copy, "etc/securetty"));
    fs.symlinkSync(outside, path.join(copy, "etc/alt"));
    const result = await applyEdits(copy, [
      { kind: "write", path: "/etc/fstab", text: "new\n", change: "fstab" },
      { kind: "write", path: "/etc/securetty", text: "x\n", change: "securetty" },
      { kind: "write", path: "/etc/alt/securetty", text: "x\n", change: "alt" },
      { kind: "write", path: "/etc/../../escape", text: "x\n", change: "dots" },
      {
        kind: "symlink",
        path: "/etc/systemd/system/getty.target.wants/a.service",
        target: "/lib/x",
        change: "link",
      },
    ]);
    assert.deepEqual(result.changes, ["fstab", "link"]);
    assert.equal(result.refused.length, 3);
    assert.match(result.refused[0] ?? "", /\/etc\/securetty is a symlink/);
    assert.match(result.refused[1] ?? "", /\/etc\/alt is a symlink/);
    assert.match(result.refused[2] ?? "", /a \. or \.\. component/);
    assert.equal(fs.readFileSync(path.join(copy, "etc/fstab"), "utf8"), "new\n");
    assert.equal(
      fs.statSync(path.join(copy, "etc/fstab")).mode & 0o777,
      0o600,
      "the file keeps its mode",
    );
    assert.equal(fs.readFileSync(path.join(outside, "securetty"), "utf8"), "host\n");
    assert.equal(
      fs.readlinkSync(path.join(copy, "etc/systemd/system/getty.target.wants/a.service")),
      "/lib/x",
    );
    assert.equal(fs.existsSync(path.join(dir, "escape")), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
