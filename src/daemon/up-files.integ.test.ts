/**
 * `etherplane up` as a process, under the usual umask 022: the admin token goes into a 0600 file
 * whose path is printed (never the token: under systemd stdout is the journal), every directory
 * of the data directory is 0700 and every file 0600 (SQLite's -wal and -shm included), and a
 * second run from another HOME points to `token create --local`, which lets root back in.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { CliDaemon } from "../../test/lab/cli-process.js";
import { startUpBox, type UpBox } from "../../test/lab/up-box.js";

let box: UpBox;
/** The second `up` of the last test, from another HOME. */
let again: CliDaemon | undefined;
const LISTEN = "127.0.0.1:7393";

before(async () => {
  box = await startUpBox({ tag: "upfiles", listen: LISTEN, umask: 0o022 }); // inherited by up
});

after(async () => {
  await again?.stop();
  await box?.close();
});

/** Every entry under `dir` with its mode, as "path mode" lines (sorted). */
function modes(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      const mode = (fs.lstatSync(full).mode & 0o777).toString(8);
      found.push(`${path.relative(dir, full)}${entry.isDirectory() ? "/" : ""} ${mode}`);
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return found.sort();
}

const cli = (args: string[], env: Record<string, string> = {}) => box.cli(args, { env });

test("the admin token: in a 0600 file whose path is printed, never on stdout", () => {
  const { daemon, env, adminTokenFile } = box;
  const dataDir = path.join(box.link.dir, "data");
  assert.equal(adminTokenFile, path.join(dataDir, "admin.token"));
  assert.equal((fs.statSync(adminTokenFile).mode & 0o777).toString(8), "600");
  const token = fs.readFileSync(adminTokenFile, "utf8").trim();
  assert.match(token, /^ept_/);
  assert.ok(!daemon.stdout.includes(token), `stdout holds the token: ${daemon.stdout}`);
  assert.ok(!daemon.stderr.includes(token), "stderr holds the token");
  const config = JSON.parse(fs.readFileSync(env["ETHERPLANE_CONFIG"]!, "utf8")) as {
    token: string;
  };
  assert.equal(config.token, token, "the CLI's config holds the same token");
});

test("the data directory: directories 0700, files 0600 (the store's -wal and -shm too)", async () => {
  const created = await cli(["volume", "create", "web", "--size", "4M"]);
  assert.equal(created.code, 0, created.stderr);
  const dataDir = path.join(box.link.dir, "data");
  const all = modes(dataDir);
  for (const name of ["controller.db 600", "controller.db-wal 600", "controller.db-shm 600"])
    assert.ok(all.includes(name), `${name} in ${all.join(", ")}`);
  assert.ok(
    all.some((l) => /^pools\/default\/.+\.img 600$/.test(l)),
    `a volume file: ${all.join(", ")}`,
  );
  const wrong = all.filter(
    (l) => !(l.endsWith("/ 700") || (!l.includes("/ ") && l.endsWith(" 600"))),
  );
  assert.deepEqual(wrong, [], "every directory 0700 and every file 0600");
  assert.equal((fs.statSync(dataDir).mode & 0o777).toString(8), "700");
});

test("a second up from another HOME points to token create --local, which lets root back in", async () => {
  await box.daemon.stop();
  const otherHome = { ETHERPLANE_CONFIG: path.join(box.link.dir, "other-home.json") };
  const dataDir = path.join(box.link.dir, "data");
  again = new CliDaemon(
    ["up", "--data-dir", dataDir, "--aoe-iface", "tgt0", "--listen", LISTEN, "--name", "box1"],
    { ns: box.link.targetNs, env: { ...otherHome, ETHERPLANE_LOG: "warn" } },
  );
  const deadline = Date.now() + 30_000;
  while (!/etherplane is up/.test(again.stdout)) {
    if (again.child.exitCode !== null) assert.fail(`up exited: ${again.stderr}`);
    if (Date.now() > deadline) assert.fail(`up said nothing: ${again.stdout} ${again.stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(
    again.stdout.includes(
      `etherplane token create NAME --role admin --local --data-dir ${dataDir}`,
    ),
    again.stdout,
  );
  // The first token's file is gone, as in the report: root makes another.
  fs.rmSync(box.adminTokenFile);
  const rescue = await cli(
    ["token", "create", "rescue", "--role", "admin", "--local", "--data-dir", dataDir],
    otherHome,
  );
  assert.equal(rescue.code, 0, rescue.stderr);
  const file = path.join(dataDir, "rescue.token");
  assert.ok(rescue.stdout.includes(file), rescue.stdout);
  const login = await cli(
    ["login", "--controller", `http://${LISTEN}`, "--token-file", file],
    otherHome,
  );
  assert.equal(login.code, 0, login.stderr);
  const list = await cli(["volume", "list"], otherHome);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^web\s/m);
});
