/**
 * The fixture corpus (test/fixtures/xl-cfg): each `NAME.cfg` parses to the settings in `NAME.json`,
 * round-trips through the writer, and its disk and vif specs read as expected; each Python file
 * under `python/` is refused with its line and reason.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseDiskSpec } from "./disk-spec.js";
import { writeDiskSpec } from "./disk-spec-writer.js";
import { readXlDomain, xlDisks, xlVifs } from "./fields.js";
import { parseXlConfig } from "./parser.js";
import { findSetting, settingEntries, type XlValue } from "./types.js";
import { parseVifSpec, writeVifSpec } from "./vif-spec.js";
import { writeXlConfig } from "./writer.js";

// Compiled tests run from dist/src/domain/xl-cfg; fixtures stay in the source tree.
const FIXTURES = new URL("../../../../test/fixtures/xl-cfg/", import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, FIXTURES), "utf8");
const cfgNames = (folder: string): string[] =>
  readdirSync(new URL(folder, FIXTURES))
    .filter((name) => name.endsWith(".cfg"))
    .sort();

interface Expected {
  settings: Array<[string, XlValue]>;
  lines?: Record<string, number>;
  historyLengths?: Record<string, number>;
  disks?: unknown[];
  vifs?: unknown[];
}

describe("xl.cfg fixture corpus", () => {
  const names = cfgNames("");
  test("has the files the syntax rules need", () => {
    for (const name of ["seed-noc-grid", "quoting", "numbers", "lists", "append-and-override"]) {
      assert.ok(names.includes(`${name}.cfg`), name);
    }
  });

  for (const name of names) {
    describe(name, () => {
      const text = read(name);
      const expected = JSON.parse(read(name.replace(/\.cfg$/, ".json"))) as Expected;
      const config = parseXlConfig(text, name);

      test("parses to the expected settings", () => {
        assert.deepEqual(settingEntries(config), expected.settings);
      });

      test("keeps the line of each key's effective assignment, and its history", () => {
        for (const [key, line] of Object.entries(expected.lines ?? {})) {
          assert.equal(findSetting(config, key)?.line, line, key);
        }
        for (const [key, length] of Object.entries(expected.historyLengths ?? {})) {
          assert.equal(findSetting(config, key)?.history.length, length, key);
        }
      });

      test("round-trips: parse(write(parse(x))) equals parse(x)", () => {
        const written = writeXlConfig(config);
        const again = parseXlConfig(written, `${name} (written)`);
        assert.deepEqual(settingEntries(again), settingEntries(config));
        assert.equal(writeXlConfig(again), written, "writing is stable");
      });

      if (expected.disks !== undefined) {
        test("reads its disk specs, and each round-trips through the writer", () => {
          const disks = xlDisks(config);
          assert.deepEqual(disks, expected.disks);
          for (const disk of disks) assert.deepEqual(parseDiskSpec(writeDiskSpec(disk)), disk);
        });
      }
      if (expected.vifs !== undefined) {
        test("reads its vif specs, and each round-trips through the writer", () => {
          const vifs = xlVifs(config);
          assert.deepEqual(vifs, expected.vifs);
          for (const vif of vifs) assert.deepEqual(parseVifSpec(writeVifSpec(vif)), vif);
        });
      }
    });
  }
});

describe("the seed's noc.grid file", () => {
  const config = parseXlConfig(read("seed-noc-grid.cfg"), "noc.grid.cfg");

  test("reads as the domain the seed ran", () => {
    assert.deepEqual(readXlDomain(config), {
      name: "noc.grid",
      type: "pv",
      memoryMiB: 256,
      kernel: "/boot/vmlinuz-2.6.16-2-xen-vserver-686",
      ramdisk: "/boot/initrd.img-2.6.16-2-xen-vserver-686",
      root: "/dev/sda1 ro",
      extra: "2",
      onPoweroff: "destroy",
      onReboot: "restart",
      onCrash: "restart",
      disks: [
        {
          target: "/dev/xenimages/noc.grid",
          vdev: "sda1",
          access: "rw",
          legacyPrefixes: ["phy"],
          flags: [],
          options: {},
        },
      ],
      vifs: [{ mac: "00:16:3E:00:00:13", bridge: "xenbr1", options: {}, flags: [] }],
    });
  });

  test("writes back as xl.cfg with the same values, its disk spec unchanged", () => {
    const written = writeXlConfig(config);
    assert.equal(
      written,
      [
        'name = "noc.grid"',
        'kernel = "/boot/vmlinuz-2.6.16-2-xen-vserver-686"',
        'ramdisk = "/boot/initrd.img-2.6.16-2-xen-vserver-686"',
        "memory = 256",
        'vif = [ "mac=00:16:3E:00:00:13, bridge=xenbr1" ]',
        'disk = [ "phy:/dev/xenimages/noc.grid,sda1,w" ]',
        'root = "/dev/sda1 ro"',
        'extra = "2"',
        'on_poweroff = "destroy"',
        'on_reboot = "restart"',
        'on_crash = "restart"',
        "",
      ].join("\n"),
    );
    const disk = xlDisks(config)[0];
    assert.ok(disk !== undefined);
    assert.equal(writeDiskSpec(disk), "phy:/dev/xenimages/noc.grid,sda1,w");
  });
});

describe("Python xm files are refused with the line and the reason", () => {
  const expectations = JSON.parse(read("python/expected.json")) as Record<
    string,
    { line: number; quote: string; reason: string }
  >;
  test("every Python fixture has an expectation", () => {
    assert.deepEqual(cfgNames("python/"), Object.keys(expectations).sort());
  });
  for (const [name, expected] of Object.entries(expectations)) {
    test(name, () => {
      assert.throws(
        () => parseXlConfig(read(`python/${name}`), name),
        (error: unknown) => {
          assert.ok(isEtherplaneError(error, "INVALID_CONFIG"), String(error));
          assert.equal(error.params.line, expected.line, error.message);
          assert.equal(error.params.python, true, error.message);
          assert.ok(
            error.message.startsWith(`${name}: line ${expected.line}, column `),
            error.message,
          );
          assert.ok(error.message.includes(expected.quote), error.message);
          assert.ok(error.message.includes(expected.reason), error.message);
          return true;
        },
      );
    });
  }

  test("the message says what to do", () => {
    assert.throws(() => parseXlConfig('name = "x"\nmemory = 1\nimport os\n', "old.cfg"), {
      message:
        "old.cfg: line 3, column 1: `import os` is Python code (an import), not a plain " +
        "assignment; xl cannot read it either: rewrite it as KEY = VALUE",
    });
  });
});
