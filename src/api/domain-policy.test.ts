/**
 * The domain policy at the API (issue 10's repros), over a real SQLite store: an operator's
 * import or edit of a refused key is 403 with the line and why; an admin's goes through only
 * with the key named in allowUnsafe, and the audit log says what went in. Bad names are 400.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Controller } from "../cluster/controller/controller.js";
import type { AuditRecord, DomainRecord } from "../cluster/model.js";
import { openSqliteStore } from "../cluster/store/sqlite/index.js";
import type { Store } from "../cluster/store/store.js";
import { createApi } from "./app.js";

interface ErrorReply {
  error: { code: string; message: string };
}

describe("domain policy through the API", () => {
  let dir: string;
  let store: Store;
  let app: ReturnType<typeof createApi>;
  let admin: string;
  let operator: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-policy-api-"));
    store = await openSqliteStore(path.join(dir, "controller.db"));
    const controller = new Controller(store);
    app = createApi({ controller });
    admin = (await controller.auth.createToken({ name: "root", role: "admin" })).secret;
    operator = (await controller.auth.createToken({ name: "ops", role: "operator" })).secret;
  });
  after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function call<T>(token: string, method: string, route: string, body?: unknown) {
    const response = await app.request(route, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  }
  const importAs = (token: string, config: string, allowUnsafe?: string[]) =>
    call<ErrorReply & { domain: DomainRecord }>(token, "POST", "/api/v1/domains", {
      config,
      source: "evil.cfg",
      ...(allowUnsafe ? { allowUnsafe } : {}),
    });
  const lastAudit = async () => {
    const { body } = await call<{ entries: AuditRecord[] }>(
      admin,
      "GET",
      "/api/v1/audit?limit=10000",
    );
    return body.entries.at(-1);
  };

  const repros: Array<[string, string]> = [
    [
      "device_model_args_hvm",
      'device_model_args_hvm = ["-monitor", "tcp:0.0.0.0:4444,server,nowait"]',
    ],
    ["device_model_override", 'device_model_override = "/usr/bin/qemu-evil"'],
    ["bootloader", 'bootloader = "/bin/sh"'],
    ["pci", 'pci = ["0000:00:1f.2"]'],
    ["ioports", 'ioports = ["3f8-3ff"]'],
    ["iomem", 'iomem = ["fe000,1"]'],
    ["vfb", "vfb = [ 'vnc=1,vnclisten=0.0.0.0' ]"],
    ["acpi_firmware", 'acpi_firmware = "/etc/shadow"'],
    ["vif", "vif = [ 'mac=00:16:3e:00:00:31,script=/any/path' ]"],
    ["vif", "vif = [ 'mac=00:16:3e:00:00:32,backend=dom-evil' ]"],
    ["dm_restrict", "dm_restrict = 0"],
  ];

  for (const [index, [key, line]] of repros.entries()) {
    it(`${line.slice(0, 60)}: 403 for an operator with line 3 and why; an admin must name ${key}`, async () => {
      const config = `name = "r${index}"\nmemory = 64\n${line}\n`;
      const refused = await importAs(operator, config);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.match(
        refused.body.error.message,
        new RegExp(`evil\\.cfg: line 3: \`${key}\` refused \\(.+\\): .+`),
      );
      assert.match(refused.body.error.message, /ask an admin/);
      assert.equal((await lastAudit())?.status, 403, "the refusal is audited");

      const unnamed = await importAs(admin, config);
      assert.equal(unnamed.status, 403);
      assert.match(unnamed.body.error.message, new RegExp(`--allow-unsafe ${key}`));

      const allowed = await importAs(admin, config, [key]);
      assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
      assert.deepEqual(allowed.body.domain.allowedUnsafe, [key]);
      assert.equal(allowed.body.domain.config, config, "the file stays as written");
      const audit = await lastAudit();
      assert.equal(audit?.actor, "root");
      assert.match(
        audit?.subject ?? "",
        new RegExp(`imported; unsafe settings allowed: ${key} \\(line 3`),
      );
    });
  }

  it("an operator may not allow anything", async () => {
    const reply = await importAs(operator, 'name = "x1"\npci = ["0000:00:1f.2"]\n', ["pci"]);
    assert.equal(reply.status, 403);
    assert.match(reply.body.error.message, /only an admin may allow/);
  });

  it("an operator's edit keeps an admin-allowed setting unchanged, and may not change it", async () => {
    const config = 'name = "passthru"\nmemory = 64\npci = ["0000:00:1f.2"]\n';
    assert.equal((await importAs(admin, config, ["pci"])).status, 201);
    const edit = (text: string) =>
      call<ErrorReply & { domain: DomainRecord }>(operator, "PUT", "/api/v1/domains/passthru", {
        config: text,
      });
    const kept = await edit(config.replace("memory = 64", "memory = 128"));
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    assert.deepEqual(kept.body.domain.allowedUnsafe, ["pci"]);
    const changed = await edit(config.replace("1f.2", "1f.3"));
    assert.equal(changed.status, 403);
    assert.match(changed.body.error.message, /line 3: `pci` refused/);
    const added = await edit(`${config}iomem = ["fe000,1"]\n`);
    assert.equal(added.status, 403);
    assert.match(added.body.error.message, /line 4: `iomem` refused/);
    const dropped = await edit('name = "passthru"\nmemory = 64\n');
    assert.equal(dropped.status, 200);
    assert.deepEqual(dropped.body.domain.allowedUnsafe, [], "removing it ends the allowance");
    assert.equal((await edit(config)).status, 403, "and putting it back needs an admin again");
  });

  it("an edit to a running file's refused key is 403 and changes nothing (issue 10: disk = phy:/dev/sda)", async () => {
    assert.equal((await importAs(operator, 'name = "web"\nmemory = 64\n')).status, 201);
    const reply = await call<ErrorReply>(operator, "PUT", "/api/v1/domains/web", {
      config:
        "name = \"web\"\nmemory = 64\ndisk = [ 'vdev=xvda,script=/bin/sh,target=/dev/sda' ]\n",
    });
    assert.equal(reply.status, 403);
    assert.match(reply.body.error.message, /line 3: `disk` refused \(item 1: script=\/bin\/sh\)/);
    const { body } = await call<{ domain: DomainRecord }>(operator, "GET", "/api/v1/domains/web");
    assert.equal(body.domain.config, 'name = "web"\nmemory = 64\n');
  });

  it("names that climb out of directories, hide dom0 or carry control characters are 400 (issue 10)", async () => {
    for (const name of [
      "../../../../etc/x",
      "Domain-0",
      "a\nb",
      "x".repeat(100_000),
      "evil\u202egnp",
      "12",
    ]) {
      const reply = await importAs(operator, `name = ${JSON.stringify(name)}\nmemory = 64\n`);
      assert.equal(reply.status, 400, name.slice(0, 20));
      assert.match(reply.body.error.message, /evil\.cfg: line 1: name/);
      assert.ok(reply.body.error.message.length < 500, "the message quotes a bounded part");
    }
    const vdev = await importAs(
      operator,
      "name = \"v1\"\ndisk = [ '/dev/etherd/e1.0,raw,../../x,w' ]\n",
    );
    assert.equal(vdev.status, 400);
    assert.match(vdev.body.error.message, /line 2: disk item 1: vdev/);
  });
});
