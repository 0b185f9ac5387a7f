/**
 * A lost admin token, recovered by root on the controller's host: `etherplane token create NAME
 * --role admin --local` writes a token into the running controller's SQLite store (real file,
 * real HTTP server on loopback), saves its secret in a 0600 file, and the controller accepts it
 * at once. It never creates a store where there is none.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { apiCaller } from "../../test/lab/api-caller.js";
import { runCli } from "../../test/lab/cli-process.js";
import type { AuditRecord, HostRecord } from "../cluster/model.js";
import { createLocalToken } from "./local-token.js";
import { startController, type StartedController } from "./start-controller.js";

let dir: string;
let started: StartedController;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-local-token-"));
  started = await startController({ dataDir: path.join(dir, "data"), host: "127.0.0.1", port: 0 });
});

after(async () => {
  await started?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string) => (fs.statSync(file).mode & 0o777).toString(8);

test("a token written into the running controller's store works at once, and is audited", async () => {
  const { token, file } = await createLocalToken({
    dataDir: path.join(dir, "data"),
    name: "rescue",
    role: "admin",
  });
  assert.equal(file, path.join(dir, "data", "rescue.token"));
  assert.equal(mode(file), "600");
  assert.equal(token.role, "admin");
  const secret = fs.readFileSync(file, "utf8").trim();
  const { call } = apiCaller(
    () => started.server.url,
    () => secret,
  );
  const hosts = await call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
  assert.equal(hosts.status, 200, "the running controller accepts the new token");
  const made = await call("POST", "/api/v1/tokens", { name: "ops", role: "operator" });
  assert.equal(made.status, 201, "with admin rights");
  const { body } = await call<{ entries: AuditRecord[] }>("GET", "/api/v1/audit?limit=100");
  const local = body.entries.find((e) => e.method === "LOCAL");
  assert.ok(local, JSON.stringify(body.entries));
  assert.match(local.actor, /^local:/);
  assert.match(local.subject ?? "", /token rescue \(admin, tok-/);
  assert.ok(!JSON.stringify(body.entries).includes(secret), "no secret in the audit log");
});

test("refused: no store in the directory (none is made), an existing file, a bad name", async () => {
  const empty = path.join(dir, "empty");
  fs.mkdirSync(empty);
  await assert.rejects(
    createLocalToken({ dataDir: empty, name: "x", role: "admin" }),
    /no controller store at .*controller\.db: give the controller's data directory with --data-dir/,
  );
  assert.deepEqual(fs.readdirSync(empty), [], "nothing was created");
  const taken = path.join(dir, "taken.token");
  fs.writeFileSync(taken, "keep me\n");
  await assert.rejects(
    createLocalToken({ dataDir: path.join(dir, "data"), name: "y", role: "admin", out: taken }),
    /taken\.token exists already; move it away, or name another file with --out FILE/,
  );
  assert.equal(fs.readFileSync(taken, "utf8"), "keep me\n");
  await assert.rejects(
    createLocalToken({ dataDir: path.join(dir, "data"), name: "../x", role: "admin" }),
    /token name "\.\.\/x": use 1-64 of/,
  );
});

test("the etherplane command: token create --local, then the CLI logs in with the file", async () => {
  const env = { ETHERPLANE_CONFIG: path.join(dir, "cli.json") };
  const out = path.join(dir, "cli-rescue.token");
  const created = await runCli(
    [
      "token",
      "create",
      "cli-rescue",
      "--role",
      "admin",
      "--local",
      "--data-dir",
      path.join(dir, "data"),
      "--out",
      out,
    ],
    { env },
  );
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /created the admin token "cli-rescue" \(tok-[^)]+\)/);
  assert.ok(created.stdout.includes(`its secret is saved in ${out} (mode 0600)`), created.stdout);
  assert.ok(
    !created.stdout.includes(fs.readFileSync(out, "utf8").trim()),
    "the secret is not printed",
  );
  assert.equal(mode(out), "600");
  const login = await runCli(["login", "--controller", started.server.url, "--token-file", out], {
    env,
  });
  assert.equal(login.code, 0, login.stderr);
  const hosts = await runCli(["host", "list"], { env });
  assert.equal(hosts.code, 0, hosts.stderr);
  assert.match(hosts.stdout, /^NAME/);
  // The audit log through the CLI, every page: the local creations are in it.
  const audit = await runCli(["audit"], { env });
  assert.equal(audit.code, 0, audit.stderr);
  assert.match(audit.stdout, /^TIME\s+ACTOR\s+ROLE\s+CALL\s+STATUS\s+WHAT$/m);
  assert.match(
    audit.stdout,
    /local:\S+\s+local\s+LOCAL etherplane token create --local\s+201\s+token cli-rescue/,
  );
  assert.match(
    audit.stdout,
    /\(\d+ calls without a valid token refused since the controller started\)/,
  );
  const badRole = await runCli(
    ["token", "create", "z", "--role", "agent", "--local", "--data-dir", path.join(dir, "data")],
    { env },
  );
  assert.equal(badRole.code, 2, badRole.stderr);
  assert.match(badRole.stderr, /choose admin, operator, viewer/);
});
