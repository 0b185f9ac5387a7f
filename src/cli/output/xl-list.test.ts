import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fixturePath } from "../../../test/lab/repo.js";
import { formatXlList, formatXlListRow, XL_LIST_HEADER } from "./xl-list.js";

/** Real `xl list` output from Xen 4.17 (test/fixtures/xl/README.md). */
const real = readFileSync(fixturePath("xl", "xl-list-dom0-only.txt"), "utf8").trimEnd().split("\n");

/** The fields of a real row, read back by position the way a script reading xl list would. */
function fields(line: string) {
  const match = /^(.{40}) (.{5}) (.{5}) (.{5}) {5}(.{6}) {2}(.{8})$/.exec(line);
  assert.ok(match, `not in xl list's layout: ${JSON.stringify(line)}`);
  return match.slice(1).map((f) => f.trim());
}

describe("xl list layout", () => {
  it("prints the header byte for byte as real xl does (tabs included)", () => {
    assert.equal(XL_LIST_HEADER, real[0]);
  });

  it("prints a row exactly as real xl printed Domain-0", () => {
    const [name, id, mem, vcpus, state, time] = fields(real[1] ?? "");
    const ours = formatXlListRow({
      name: name ?? "",
      domid: Number(id),
      memoryMiB: Number(mem),
      vcpus: Number(vcpus),
      flags: state ?? "",
      cpuTimeS: Number(time),
    });
    assert.equal(ours, real[1]);
  });

  it("keeps every column in place for long values, stopped domains and odd flags", () => {
    const rows = [
      { name: "noc.grid", domid: 17, memoryMiB: 256, vcpus: 1, flags: "-b----", cpuTimeS: 1234.56 },
      { name: "web", domid: null, memoryMiB: 1024, vcpus: 4, flags: "------", cpuTimeS: 0 },
      {
        name: "x".repeat(40),
        domid: 32767,
        memoryMiB: 65536,
        vcpus: 128,
        flags: "--p---",
        cpuTimeS: 99999.9,
      },
      { name: "bad", domid: 3, memoryMiB: 1, vcpus: 1, flags: "garbage", cpuTimeS: 0.04 },
    ];
    const lines = formatXlList(rows).split("\n");
    assert.equal(lines.length, rows.length + 1);
    const parsed = lines.slice(1).map(fields);
    assert.deepEqual(parsed[0], ["noc.grid", "17", "256", "1", "-b----", "1234.6"]);
    assert.deepEqual(parsed[1], ["web", "-", "1024", "4", "------", "0.0"]);
    assert.deepEqual(parsed[2], ["x".repeat(40), "32767", "65536", "128", "--p---", "99999.9"]);
    // A malformed state never shifts the columns.
    assert.deepEqual(parsed[3], ["bad", "3", "1", "1", "------", "0.0"]);
  });
});
