import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { xlFixture } from "./testing/fake-xl-runner.js";
import { parseXlInfo, XL_INFO_LIMITS } from "./xl-info.js";

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseXlInfo(text),
    (error: unknown) => {
      assert.ok(isEtherplaneError(error, "PROTOCOL"), String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe("xl info", () => {
  test("dom0 only (Xen 4.17.7 under QEMU/TCG, 2 CPUs, 2 GiB)", () => {
    const info = parseXlInfo(xlFixture("xl-info-dom0-only.txt", "."));
    assert.equal(info.xenVersion, "4.17.7");
    assert.equal(info.host, "xenhost1");
    assert.equal(info.nrCpus, 2);
    assert.equal(info.totalMemoryMiB, 2047);
    assert.equal(info.freeMemoryMiB, 1512);
    assert.equal(info.virtCaps, "pv hvm hap gnttab-v1 gnttab-v2");
    assert.equal(info.scheduler, "credit2");
    assert.equal(info.fields.get("xen_changeset"), "", "an empty value");
    assert.equal(
      info.fields.get("xen_commandline"),
      "console=com1 com1=115200,8n1 dom0_mem=512M,max:512M bootscrub=0",
    );
    assert.equal(
      info.fields.get("cc_compile_date"),
      "Wed Nov  4 16:52:28 UTC 2026",
      "colons in values",
    );
  });

  test("with four guests of 128 MiB, less is free", () => {
    const info = parseXlInfo(xlFixture("xl-info.txt"));
    assert.equal(info.totalMemoryMiB, 2047);
    assert.ok(info.freeMemoryMiB <= 1512 - 4 * 128, `${info.freeMemoryMiB}`);
  });

  test("xl info -n tables are skipped", () => {
    const text =
      xlFixture("xl-info-dom0-only.txt", ".") +
      "cpu_topology           :\ncpu:    core    socket     node\n  0:       0        0        0\n";
    assert.equal(parseXlInfo(text).nrCpus, 2);
  });

  test("missing, truncated or hostile output is refused", () => {
    const full = xlFixture("xl-info-dom0-only.txt", ".");
    refused("", /no xen_version line/);
    refused(full.slice(0, full.indexOf("free_memory")), /no free_memory line|no xen_version/);
    refused(
      full.replace("nr_cpus                : 2", "nr_cpus                : two"),
      /nr_cpus is "two"/,
    );
    refused(
      full.replace("xen_version            : 4.17.7", "xen_version            : unknown"),
      /xen_version is "unknown"/,
    );
    refused("x".repeat(XL_INFO_LIMITS.outputBytesMax + 1), /over \d+ bytes/);
    refused("a : b\n".repeat(XL_INFO_LIMITS.linesMax + 1), /over \d+ lines/);
  });
});
