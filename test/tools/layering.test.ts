import assert from "node:assert/strict";
import { test } from "node:test";
import { repoRoot } from "../lab/repo.js";
import {
  checkTree,
  importCycles,
  layerIndex,
  layerViolations,
  readImports,
  resolveImport,
  type ImportGraph,
  type Layer,
} from "./layering.js";

const layers: Layer[] = [
  { name: "low", paths: ["src/low"] },
  { name: "mid", paths: ["src/mid", "src/top/shared.ts"] },
  { name: "top", paths: ["src/top"] },
];

function graph(edges: Record<string, string[]>): ImportGraph {
  return new Map(
    Object.entries(edges).map(([file, targets]) => [
      file,
      targets.map((specifier) => ({ specifier, typeOnly: false })),
    ]),
  );
}

void test("the tree holds its layering: no import against the layers, no import cycle", () => {
  assert.deepEqual(checkTree(repoRoot), []);
});

void test("imports, re-exports, dynamic and type imports are all read; packages are kept apart", () => {
  const text = [
    'import * as fs from "node:fs";',
    'import { a } from "./a.js";',
    'import type { B } from "../b.js";',
    'import { type C, type D } from "./c.js";',
    'export { e } from "./e.js";',
    'export type { F } from "./f.js";',
    "// import { g } from './not-an-import.js';",
    'const h = await import("./h.js");',
    'let i: import("./i.js").I;',
  ].join("\n");
  assert.deepEqual(readImports("x.ts", text), [
    { specifier: "node:fs", typeOnly: false },
    { specifier: "./a.js", typeOnly: false },
    { specifier: "../b.js", typeOnly: true },
    { specifier: "./c.js", typeOnly: true },
    { specifier: "./e.js", typeOnly: false },
    { specifier: "./f.js", typeOnly: true },
    { specifier: "./h.js", typeOnly: false },
    { specifier: "./i.js", typeOnly: true },
  ]);
});

void test("specifiers resolve to the sources: .js to .ts, extensionless, index, packages not", () => {
  const files = new Set(["src/a/b.ts", "web/src/format.ts", "web/src/pages/index.ts"]);
  const exists = (f: string): boolean => files.has(f);
  assert.equal(resolveImport("src/c/d.ts", "../a/b.js", exists), "src/a/b.ts");
  assert.equal(resolveImport("web/src/pages/x.tsx", "../format", exists), "web/src/format.ts");
  assert.equal(resolveImport("web/src/main.tsx", "./pages", exists), "web/src/pages/index.ts");
  assert.equal(resolveImport("src/c/d.ts", "node:fs", exists), undefined);
  assert.equal(resolveImport("src/c/d.ts", "./missing.js", exists), undefined);
});

void test("a file's layer is its longest matching path, matched on whole path segments", () => {
  assert.equal(layerIndex("src/top/shared.ts", layers), 1);
  assert.equal(layerIndex("src/top/other.ts", layers), 2);
  assert.equal(layerIndex("src/lowest/x.ts", layers), undefined);
});

void test("imports downwards and within a layer pass; upwards, unplaced and test support fail", () => {
  const problems = layerViolations(
    graph({
      "src/low/a.ts": ["src/low/b.ts", "src/mid/c.ts"],
      "src/low/b.ts": [],
      "src/mid/c.ts": ["src/low/a.ts", "src/top/shared.ts", "src/top/d.ts"],
      "src/top/d.ts": ["src/mid/c.ts", "src/top/testing/fake.ts", "test/lab/x.ts"],
      "src/top/d.test.ts": ["src/top/testing/fake.ts", "test/lab/x.ts", "src/top/d.ts"],
      "src/top/testing/fake.ts": ["test/lab/x.ts"],
      "src/elsewhere/e.ts": ["src/low/a.ts"],
    }),
    layers,
    [],
  );
  assert.equal(problems.length, 5, problems.join("\n"));
  assert.match(problems[0] ?? "", /^src\/elsewhere\/e.ts is in no layer: add its folder to LAYERS/);
  assert.match(problems[1] ?? "", /^src\/low\/a.ts \(low\) imports src\/mid\/c.ts \(mid\)/);
  assert.match(problems[2] ?? "", /^src\/mid\/c.ts \(mid\) imports src\/top\/d.ts \(top\)/);
  assert.match(problems[3] ?? "", /^src\/top\/d.ts imports test support src\/top\/testing\/fake/);
  assert.match(problems[4] ?? "", /^src\/top\/d.ts imports test support test\/lab\/x.ts/);
});

void test("a standalone folder imports nothing outside itself but what it may", () => {
  const problems = layerViolations(
    graph({
      "web/src/main.tsx": ["web/src/format.ts", "src/low/shared.ts"],
      "web/src/format.ts": ["src/low/a.ts"],
    }),
    layers,
    ["web/src"],
    ["src/low/shared.ts"],
  );
  assert.deepEqual(problems, [
    "web/src/format.ts imports src/low/a.ts: web/src stands alone (HTTP only)",
  ]);
});

void test("cycles are found with the files around them, self-imports included", () => {
  const cycles = importCycles(
    graph({
      "a.ts": ["b.ts"],
      "b.ts": ["c.ts", "x.ts"],
      "c.ts": ["a.ts"],
      "x.ts": ["y.ts"],
      "y.ts": [],
      "s.ts": ["s.ts"],
      "p.ts": ["q.ts", "outside.ts"],
      "q.ts": ["p.ts"],
    }),
  );
  assert.deepEqual(cycles, [
    ["a.ts", "b.ts", "c.ts", "a.ts"],
    ["p.ts", "q.ts", "p.ts"],
    ["s.ts", "s.ts"],
  ]);
});

void test("a graph without cycles has none, however long its chains", () => {
  const edges: Record<string, string[]> = {};
  for (let i = 0; i < 5_000; i += 1) edges[`f${i}.ts`] = i > 0 ? [`f${i - 1}.ts`] : [];
  assert.deepEqual(importCycles(graph(edges)), []);
});
