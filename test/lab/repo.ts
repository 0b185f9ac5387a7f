/** Paths inside the repository, whether a test runs from `dist/` or from the sources. */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find the repository root (package.json)");
    dir = parent;
  }
  return dir;
}

export const repoRoot = findRoot();

export function fixturePath(...parts: string[]): string {
  return path.join(repoRoot, "test", "fixtures", ...parts);
}

/** The compiled CLI entry point, for tests that run `etherplane` as a user would. */
export const cliPath = path.join(repoRoot, "dist", "src", "cli", "main.js");

export interface FrameFixture {
  name: string;
  source: string;
  hex: string;
}

/** Real frames captured from test sessions (see test/fixtures/aoe/README.md). */
export function aoeFrameFixtures(): Map<string, Buffer> {
  const list = JSON.parse(
    fs.readFileSync(fixturePath("aoe", "frames.json"), "utf8"),
  ) as FrameFixture[];
  return new Map(list.map((f) => [f.name, Buffer.from(f.hex, "hex")]));
}
