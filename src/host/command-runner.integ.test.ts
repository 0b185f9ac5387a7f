/** The runner inside a real network namespace (root: `ip netns add`). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { createCommandRunner } from "./command-runner.js";

const netns = `ep-cmd-${process.pid}`;
const root = process.getuid?.() === 0;

before(() => {
  if (root) execFileSync("ip", ["netns", "add", netns]);
});
after(() => {
  if (root) execFileSync("ip", ["netns", "del", netns]);
});

void test(
  "a command given a namespace runs in it, and sees only its interfaces",
  { skip: !root && "needs root (ip netns add)" },
  async () => {
    const inside = createCommandRunner({ netns, timeoutMsDefault: 30_000 });
    const dummy = `epd${process.pid % 100000}`;
    const added = await inside([
      "ip",
      "link",
      "add",
      dummy,
      "type",
      "veth",
      "peer",
      "name",
      `${dummy}p`,
    ]);
    assert.equal(added.code, 0, added.stderr);
    const links = await inside(["ip", "-o", "link", "show"]);
    assert.equal(links.code, 0, links.stderr);
    const names = links.stdout
      .trim()
      .split("\n")
      .map((line) => line.split(": ")[1]?.split("@")[0]);
    assert.deepEqual(names.sort(), [dummy, `${dummy}p`, "lo"].sort());
    const outside = await createCommandRunner()(["ip", "link", "show", "dev", dummy]);
    assert.notEqual(outside.code, 0, "the veth is not in the caller's namespace");
  },
);
