import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { z as serverZ } from "@hono/zod-openapi";
import { z } from "./browser-zod.js";
import { repoRoot } from "../../test/lab/repo.js";

/** replies.ts and every file of the repository it imports, transitively. */
function schemaFiles(): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = fs.readFileSync(file, "utf8");
    for (const [, specifier] of text.matchAll(/from "(\.[^"]+)\.js"/g)) {
      visit(path.resolve(path.dirname(file), `${specifier}.ts`));
    }
  };
  visit(path.join(repoRoot, "src/api/replies.ts"));
  return [...seen];
}

test("every z.<builder> the reply schemas use is in the browser's z, and is zod's own", () => {
  const used = new Set<string>();
  for (const file of schemaFiles()) {
    for (const [, name] of fs.readFileSync(file, "utf8").matchAll(/\bz\.(\w+)\(/g)) {
      if (name) used.add(name);
    }
    for (const [, name] of fs.readFileSync(file, "utf8").matchAll(/\bz\.(\w+)\s*\n?\s*\./g)) {
      if (name) used.add(name);
    }
  }
  assert.ok(used.has("object") && used.has("string"), [...used].join(" "));
  const browser = z as Record<string, unknown>;
  const missing = [...used].filter((name) => browser[name] === undefined);
  assert.deepEqual(missing, [], "add them to src/web/browser-zod.ts");
  for (const name of used) {
    assert.equal(browser[name], (serverZ as unknown as Record<string, unknown>)[name], name);
  }
});

test("schemas built with it check values, and .openapi() keeps the schema", () => {
  const schema = z.object({ id: z.string(), size: z.number().int().nullable() }).openapi("Thing");
  assert.equal(schema.safeParse({ id: "a", size: null }).success, true);
  const bad = schema.safeParse({ id: 1, size: 2 });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues[0]?.path, ["id"]);
});
