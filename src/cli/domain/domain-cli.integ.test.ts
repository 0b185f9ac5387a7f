/**
 * A Xen administrator's domain files through the `etherplane` command (`up` as a process in a
 * test namespace; no guest is started here, see src/daemon/domains-qemu.integ.test.ts):
 * the seed's noc.grid file imports verbatim, lists in xl list's layout and exports byte for
 * byte; export -> import round-trips; a Python xm file is refused with its line; `domain edit`
 * goes through $EDITOR, and a refused edit is kept.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { startUpBox, type UpBox } from "../../../test/lab/up-box.js";
import { fixturePath } from "../../../test/lab/repo.js";
import type { DomainRecord } from "../../cluster/model.js";
import { XL_LIST_HEADER } from "../output/xl-list.js";

const seedFile = fixturePath("xl-cfg", "seed-noc-grid.cfg");

describe("domain files through the CLI", () => {
  let box: UpBox;
  const cli = (args: string[], env: Record<string, string> = {}) => box.cli(args, { env });

  before(async () => {
    box = await startUpBox({ tag: "domcli", listen: "127.0.0.1:7392" });
  });

  after(async () => {
    await box?.close();
  });

  test("the seed's file imports verbatim, links its volume, lists and exports byte for byte", async () => {
    assert.equal((await cli(["volume", "create", "noc.grid", "--size", "8M"])).code, 0);
    const imported = await cli(["domain", "import", seedFile]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^imported .*seed-noc-grid\.cfg as noc\.grid$/m);
    assert.match(
      imported.stderr,
      /disk sda1: \/dev\/xenimages\/noc\.grid is volume noc\.grid \(e1\.0\), linked by name/,
    );
    const exported = await cli(["domain", "export", "noc.grid"]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout, fs.readFileSync(seedFile, "utf8"));

    const list = await cli(["list"]);
    assert.equal(list.code, 0, list.stderr);
    const [header, row] = list.stdout.trimEnd().split("\n");
    assert.equal(header, XL_LIST_HEADER);
    assert.equal(
      row,
      `${"noc.grid".padEnd(40)} ${"-".padStart(5)} ${"256".padStart(5)} ${"1".padStart(5)}     ------  ${"0.0".padStart(8)}`,
    );
    const long = await cli(["list", "--long", "noc.grid"]);
    assert.match(
      long.stdout,
      /\(disk 0 sda1 \/dev\/xenimages\/noc\.grid rw: volume noc\.grid \(e1\.0\)\)/,
    );
    assert.match(long.stdout, /\(vif 0 mac=00:16:3e:00:00:13 bridge=xenbr1\)/);
    assert.match(long.stdout, /\(on_crash restart\)/);
    const json = JSON.parse((await cli(["list", "--json"])).stdout) as { domains: DomainRecord[] };
    assert.deepEqual(
      json.domains.map((d) => [d.name, d.memoryMiB, d.vifs[0]?.mac]),
      [["noc.grid", 256, "00:16:3e:00:00:13"]],
    );
    // Its console: refused while it is not running; refused to an unknown token.
    const notRunning = await cli(["console", "noc.grid"]);
    assert.equal(notRunning.code, 8, notRunning.stderr);
    assert.match(notRunning.stderr, /noc\.grid is not running: etherplane start noc\.grid/);
    const stranger = await cli(["console", "noc.grid"], { ETHERPLANE_TOKEN: "ept_not-a-token" });
    assert.equal(stranger.code, 9, stranger.stderr);
    // Twice is a conflict that says what to do.
    const again = await cli(["domain", "import", seedFile]);
    assert.equal(again.code, 8);
    assert.match(
      again.stderr,
      /"noc\.grid" is taken; edit it with etherplane domain edit noc\.grid/,
    );
  });

  test("export -> import round-trips a file with allocated MACs; Python is refused with its line", async () => {
    const file = path.join(box.link.dir, "mail.cfg");
    fs.writeFileSync(
      file,
      `# mail server\nname = 'mail'\nmemory = 0x200\nvif = [ 'bridge=xenbr0' ]\nextra = "quiet"\n`,
    );
    const imported = await cli(["domain", "import", file]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /vif 0: no MAC given; allocated (00:16:3e:[0-9a-f:]{8})/);
    const mac = /allocated (\S+)/.exec(imported.stderr)?.[1] ?? "";
    const exported = (await cli(["domain", "export", "mail"])).stdout;
    assert.ok(
      exported.startsWith(fs.readFileSync(file, "utf8")),
      "the file as written comes first",
    );
    assert.match(exported, new RegExp(`vif = \\[ "mac=${mac},bridge=xenbr0" \\]`));
    assert.equal((await cli(["domain", "delete", "mail"])).code, 0);
    const reimport = path.join(box.link.dir, "mail-exported.cfg");
    fs.writeFileSync(reimport, exported);
    const again = await cli(["domain", "import", reimport]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /allocated/, "no new MAC: the exported file has it");
    assert.equal((await cli(["domain", "export", "mail"])).stdout, exported, "lossless");

    const python = await cli(["domain", "import", fixturePath("xl-cfg", "python", "if-block.cfg")]);
    assert.equal(python.code, 2, python.stderr);
    assert.match(python.stderr, /if-block\.cfg.*line \d+/);
  });

  test("domain edit: through $EDITOR, checked like an import; a refused edit is kept", async () => {
    const editor = path.join(box.link.dir, "editor.sh");
    fs.writeFileSync(editor, `#!/bin/sh\nsed -i "s/^memory = 256/memory = 384/" "$1"\n`, {
      mode: 0o755,
    });
    const edited = await cli(["domain", "edit", "noc.grid"], { EDITOR: editor });
    assert.equal(edited.code, 0, edited.stderr);
    assert.match(edited.stdout, /changed noc\.grid/);
    const row = (await cli(["list", "noc.grid"])).stdout.split("\n")[1] ?? "";
    assert.match(row, /^noc\.grid\s+-\s+384\s+1\s+------\s+0\.0$/);

    const breaker = path.join(box.link.dir, "breaker.sh");
    fs.writeFileSync(breaker, `#!/bin/sh\necho "memory = [" >> "$1"\n`, { mode: 0o755 });
    const broken = await cli(["domain", "edit", "noc.grid"], { EDITOR: breaker });
    assert.equal(broken.code, 2, broken.stderr);
    const kept = /your edit is kept in (\S+\.cfg)/.exec(broken.stderr)?.[1];
    assert.ok(kept && fs.readFileSync(kept, "utf8").endsWith("memory = [\n"), broken.stderr);
    fs.rmSync(kept);
    assert.match((await cli(["domain", "export", "noc.grid"])).stdout, /^memory = 384$/m);
  });

  test("the domain policy: a refused key exits 9 with its line; an admin names it with --allow-unsafe", async () => {
    const file = path.join(box.link.dir, "passthru.cfg");
    fs.writeFileSync(file, 'name = "passthru"\nmemory = 64\npci = [ "0000:00:1f.2" ]\n');
    const refused = await cli(["domain", "import", file]);
    assert.equal(refused.code, 9, refused.stderr);
    assert.match(refused.stderr, /passthru\.cfg: line 3: `pci` refused .*--allow-unsafe pci/s);
    const allowed = await cli(["domain", "import", file, "--allow-unsafe", "pci,iomem"]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /as passthru$/m);
  });
});
