import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { normalizeMac } from "../mac/mac-address.js";
import { fixturePath } from "../../../test/lab/repo.js";
import { parseXlConfig, readXlDomain } from "../xl-cfg/index.js";
import { domainBoot, importDomainFile, type ImportContext } from "./domain-import.js";

const seed = readFileSync(fixturePath("xl-cfg", "seed-noc-grid.cfg"), "utf8");
const volumes = [
  { id: "vol-noc", name: "noc.grid", shelf: 1, slot: 3 },
  { id: "vol-web", name: "web", shelf: 2, slot: 0 },
];

function context(overrides: Partial<ImportContext> = {}): ImportContext {
  let next = 0x10;
  return {
    source: "test.cfg",
    volumes,
    allocateMac: () => `00:16:3e:00:01:${(next++).toString(16)}`,
    normalizeMac,
    newUuid: () => "6b3c1f0e-2d8a-4c55-9f3e-0a1b2c3d4e5f",
    actor: { role: "operator", allowUnsafe: [] },
    ...overrides,
  };
}

describe("domain import", () => {
  it("imports the seed's noc.grid file verbatim, linking its disk by name", () => {
    const imported = importDomainFile(seed, context());
    assert.equal(imported.config, seed, "the stored file is the file as written");
    assert.equal(imported.name, "noc.grid");
    assert.equal(imported.memoryMiB, 256);
    assert.deepEqual(imported.vifs, [{ mac: "00:16:3e:00:00:13", bridge: "xenbr1" }]);
    assert.deepEqual(imported.disks, [
      { vdev: "sda1", target: "/dev/xenimages/noc.grid", readOnly: false, volumeId: "vol-noc" },
    ]);
    assert.deepEqual(
      [imported.onPoweroff, imported.onReboot, imported.onCrash],
      ["destroy", "restart", "restart"],
    );
    assert.equal(imported.changes.length, 1);
    assert.match(
      imported.changes[0] ?? "",
      /noc\.grid.*volume noc\.grid \(e1\.3\), linked by name/,
    );
    assert.deepEqual(imported.warnings, []);
  });

  it("builds the kernel command line as xl does: root= then extra, or cmdline alone", () => {
    const boot = domainBoot(readXlDomain(parseXlConfig(seed)));
    assert.deepEqual(boot, {
      kind: "kernel",
      kernel: "/boot/vmlinuz-2.6.16-2-xen-vserver-686",
      ramdisk: "/boot/initrd.img-2.6.16-2-xen-vserver-686",
      cmdline: "root=/dev/sda1 ro 2",
    });
    const own =
      'name="a"\nkernel="/k"\nroot="/dev/xvda"\nextra="x"\ncmdline="console=hvc0 quiet"\n';
    assert.equal(
      (domainBoot(readXlDomain(parseXlConfig(own))) as { cmdline: string }).cmdline,
      "console=hvc0 quiet",
    );
    assert.deepEqual(domainBoot(readXlDomain(parseXlConfig('name="b"\ntype="hvm"\n'))), {
      kind: "firmware",
    });
  });

  it("links /dev/etherd/eS.L disks by address and says what it cannot link", () => {
    const text = `name = "web"\ndisk = [ 'phy:/dev/etherd/e2.0,xvda,w', 'file:/srv/old.img,xvdb,r' ]\n`;
    const imported = importDomainFile(text, context());
    assert.deepEqual(
      imported.disks.map((d) => [d.vdev, d.volumeId, d.readOnly]),
      [
        ["xvda", "vol-web", false],
        ["xvdb", null, true],
      ],
    );
    assert.match(imported.changes[0] ?? "", /e2\.0.*by AoE address/);
    assert.match(
      imported.warnings[0] ?? "",
      /xvdb.*\/srv\/old\.img.*create a volume named old\.img/,
    );
  });

  it("allocates MACs for vifs without one, appending the change, and re-imports unchanged", () => {
    const text = `name = "mail"\nvif = [ 'bridge=xenbr0', 'mac=00:16:3E:AA:BB:CC,bridge=xenbr1' ]`;
    const imported = importDomainFile(text, context());
    assert.ok(imported.config.startsWith(text), "every original line stays as written");
    assert.deepEqual(imported.vifs, [
      { mac: "00:16:3e:00:01:10", bridge: "xenbr0" },
      { mac: "00:16:3e:aa:bb:cc", bridge: "xenbr1" },
    ]);
    assert.deepEqual(imported.changes, ["vif 0: no MAC given; allocated 00:16:3e:00:01:10"]);
    // Export -> import is lossless: the same domain, no new change, no new MAC.
    const again = importDomainFile(imported.config, context({ allocateMac: () => assert.fail() }));
    assert.equal(again.config, imported.config);
    assert.deepEqual(again.vifs, imported.vifs);
    assert.deepEqual(again.changes, []);
  });

  it("keeps the uuid of the file, or of the domain being edited, or makes one", () => {
    const withUuid = 'name="a"\nuuid="6B3C1F0E-2D8A-4C55-9F3E-0A1B2C3D4E50"\n';
    assert.equal(
      importDomainFile(withUuid, context()).uuid,
      "6b3c1f0e-2d8a-4c55-9f3e-0a1b2c3d4e50",
    );
    assert.equal(
      importDomainFile('name="a"\n', context({ uuid: "11111111-2222-3333-4444-555555555555" }))
        .uuid,
      "11111111-2222-3333-4444-555555555555",
    );
    assert.equal(
      importDomainFile('name="a"\n', context()).uuid,
      "6b3c1f0e-2d8a-4c55-9f3e-0a1b2c3d4e5f",
    );
  });

  it("refuses bad input with the key and the fix: bad uuid, duplicate MACs, Python", () => {
    const refused = (text: string, pattern: RegExp) =>
      assert.throws(
        () => importDomainFile(text, context()),
        (e: unknown) => isEtherplaneError(e, "INVALID_CONFIG") && pattern.test(e.message),
      );
    refused('name="a"\nuuid="not-a-uuid"\n', /line 2.*uuid.*RFC 4122/);
    refused(
      "name='a'\nvif=['mac=00:16:3e:00:00:01','mac=00:16:3E:00:00:01']\n",
      /two vifs have MAC 00:16:3e:00:00:01/,
    );
    refused("name = 'a'\nif True:\n    memory = 512\n", /line 2/);
    refused("memory = 256\n", /name/);
  });

  it("refuses bad names and vdevs with the line (issue 10)", () => {
    for (const name of [
      "../../../../etc/x",
      "Domain-0",
      "a\\nb",
      "x".repeat(100_000),
      "r\u202etl",
    ]) {
      assert.throws(
        () => importDomainFile(`memory = 64\nname = ${JSON.stringify(name)}\n`, context()),
        (e) => isEtherplaneError(e, "INVALID_CONFIG") && /test\.cfg: line 2: name/.test(e.message),
        name.slice(0, 20),
      );
    }
    assert.throws(
      () => importDomainFile('name = "v"\ndisk = ["/dev/etherd/e1.3,raw,../x,w"]\n', context()),
      (e) =>
        isEtherplaneError(e, "INVALID_CONFIG") &&
        /line 2: disk item 1: vdev "\.\.\/x"/.test(e.message),
    );
  });

  it("refuses the domain policy's keys for an operator, and records an admin's allowance", () => {
    const file = 'name = "p"\npci = ["0000:00:1f.2"]\n';
    assert.throws(
      () => importDomainFile(file, context()),
      (e) => isEtherplaneError(e, "FORBIDDEN") && /line 2: `pci` refused/.test(e.message),
    );
    const imported = importDomainFile(
      file,
      context({ actor: { role: "admin", allowUnsafe: ["pci"] } }),
    );
    assert.deepEqual(imported.allowedUnsafe, ["pci"]);
    assert.equal(imported.unsafeAllowed[0]?.line, 2);
    assert.equal(imported.config, file, "the file stays as written");
    assert.deepEqual(importDomainFile(seed, context()).allowedUnsafe, []);
  });
});
