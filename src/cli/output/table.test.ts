import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTable } from "./table.js";

test("formatTable: widths from the widest cell, two spaces between, right alignment", () => {
  const text = formatTable(
    [{ header: "NAME" }, { header: "SIZE", align: "right" }, { header: "STATE" }],
    [
      ["web-root", "20G", "ready"],
      ["db", "512M", "creating"],
    ],
  );
  assert.equal(
    text,
    ["NAME      SIZE  STATE", "web-root   20G  ready", "db        512M  creating"].join("\n"),
  );
});

test("formatTable: no trailing spaces, even after an empty last cell", () => {
  const text = formatTable(
    [{ header: "ID" }, { header: "ERROR" }],
    [
      ["vol-1", ""],
      ["vol-22", "disk full"],
    ],
  );
  assert.equal(text, ["ID      ERROR", "vol-1", "vol-22  disk full"].join("\n"));
  for (const line of text.split("\n")) assert.equal(line, line.trimEnd());
});

test("formatTable: a header wider than its cells sets the width; no rows prints the header", () => {
  assert.equal(
    formatTable([{ header: "ALLOCATED", align: "right" }, { header: "N" }], [["1G", "x"]]),
    "ALLOCATED  N\n       1G  x",
  );
  assert.equal(formatTable([{ header: "NAME" }, { header: "SIZE" }], []), "NAME  SIZE");
});

test("formatTable: control characters from the controller cannot break a row", () => {
  assert.equal(
    formatTable([{ header: "NAME" }, { header: "X" }], [["a\nb\x1b[2J", "1"]]),
    "NAME     X\na?b?[2J  1",
  );
});

test("formatTable: a row with the wrong number of cells is the program's bug", () => {
  assert.throws(() => formatTable([{ header: "A" }, { header: "B" }], [["only one"]]), {
    name: "AssertionError",
  });
});
