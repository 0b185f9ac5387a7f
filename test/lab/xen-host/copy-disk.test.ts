/**
 * The copy disk: which packages `project` takes (against this repository's real node_modules),
 * and the image mke2fs writes, read back with debugfs.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { runTool } from "../netns.js";
import { repoRoot } from "../repo.js";
import { buildCopyDisk, productionPackages } from "./copy-disk.js";
import { dom0ProjectRoot } from "./host-config.js";

/** debugfs's answer: stdout, then stderr (where it says "File not found"). */
async function debugfs(image: string, request: string): Promise<string> {
  const result = await runTool("debugfs", ["-R", request, image]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout + result.stderr;
}

void test("the production dependencies of this repository, not the development ones", async () => {
  const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const packages = (await productionPackages(repoRoot)).map((dir) => relative(repoRoot, dir));
  for (const name of Object.keys(manifest.dependencies)) {
    assert.ok(packages.includes(`node_modules/${name}`), `${name} is missing`);
  }
  for (const name of Object.keys(manifest.devDependencies)) {
    assert.ok(!packages.includes(`node_modules/${name}`), `${name} is a dev dependency`);
  }
  // Transitive: better-sqlite3 loads its addon through `bindings`.
  assert.ok(packages.includes("node_modules/bindings"));
});

const noDebugfs = existsSync("/usr/sbin/debugfs") ? false : "needs e2fsprogs (mke2fs, debugfs)";

void describe("the copy disk image", { skip: noDebugfs }, () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ep-copy-disk-"));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void test("holds each entry under its index; files, folders and symlinks kept", async () => {
    const folder = join(dir, "folder");
    await mkdir(join(folder, "sub"), { recursive: true });
    await writeFile(join(folder, "sub", "a.txt"), "alpha\n");
    await symlink("sub/a.txt", join(folder, "link"));
    const file = join(dir, "single.bin");
    await writeFile(file, Buffer.alloc(3 * 1024 * 1024, 7));
    const image = join(dir, "copies.img");
    const lines = await buildCopyDisk(
      [
        { source: { kind: "path", hostPath: folder }, mountPoint: "/opt/folder" },
        { source: { kind: "path", hostPath: file }, mountPoint: "/usr/local/bin/single" },
      ],
      join(dir, "staging"),
      image,
    );
    assert.equal(lines, "0 /opt/folder dir\n1 /usr/local/bin/single file\n");
    assert.match(await debugfs(image, "cat /0/sub/a.txt"), /^alpha\n/);
    assert.match(await debugfs(image, "stat /0/link"), /Fast link dest: "sub\/a\.txt"/);
    assert.match(await debugfs(image, "stat /1"), /Size: 3145728\b/);
    const fsck = await runTool("e2fsck", ["-fn", image]);
    assert.equal(fsck.code, 0, fsck.stdout);
  });

  void test("a project entry: package.json, dist, the addons, production node_modules only", async () => {
    const image = join(dir, "project.img");
    await buildCopyDisk(
      [{ source: { kind: "project", root: repoRoot }, mountPoint: dom0ProjectRoot }],
      join(dir, "project-staging"),
      image,
    );
    assert.match(await debugfs(image, "stat /0/dist/src/cli/main.js"), /Type: regular/);
    assert.match(await debugfs(image, "ls -l /0/node_modules/hono"), /package\.json/);
    assert.match(
      await debugfs(image, "stat /0/node_modules/typescript"),
      /not found|File not found/i,
    );
    assert.match(await debugfs(image, "stat /0/src"), /not found|File not found/i);
    const release = await debugfs(image, "ls -l /0/build/Release");
    assert.match(release, /af_packet\.node/);
    assert.doesNotMatch(release, /obj\.target/);
  });

  void test("a missing path is NOT_FOUND", async () => {
    await assert.rejects(
      buildCopyDisk(
        [{ source: { kind: "path", hostPath: join(dir, "nope") }, mountPoint: "/opt/nope" }],
        join(dir, "missing-staging"),
        join(dir, "missing.img"),
      ),
      /no .*nope to copy/,
    );
  });
});
