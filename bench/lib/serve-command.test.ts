import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { serveOneExportArgs } from "./serve-command.js";

test("serveOneExportArgs: this build's CLI, e1.0 on tgt0 with its state directory and the extra options", async () => {
  const args = serveOneExportArgs("/srv/disk.img", "/run/state", ["--buffer-count", "8"]);
  assert.match(args[0] ?? "", /dist\/src\/cli\/main\.js$/);
  assert.deepEqual(args.slice(1), [
    ...["aoe", "serve", "--iface", "tgt0", "--export", "1.0=/srv/disk.img"],
    ...["--state-dir", "/run/state", "--buffer-count", "8"],
  ]);
  // The CLI takes these options (--help: it parses them and prints its usage, serving nothing).
  const { stdout } = await promisify(execFile)(process.execPath, [...args, "--help"]);
  assert.match(stdout, /^usage: etherplane aoe serve/);
});
