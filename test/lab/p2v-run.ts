/**
 * `etherplane p2v` as the P2V end-to-end tests run it: in the storage host's namespace (where the
 * source's sshd is reached and the pool lives), as an administrator of the lab's controller, with
 * `--json` progress. It must exit 0; the report of its `done` event is returned.
 */
import assert from "node:assert/strict";
import { runCli } from "./cli-process.js";
import type { ClusterLab, StorageHost } from "./cluster-lab.js";

export async function runP2v(
  lab: ClusterLab,
  storage: StorageHost,
  args: readonly string[],
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const reply = await runCli(["p2v", ...args, "--json", "--controller", lab.controllerUrl], {
    ns: storage.ns,
    env: { ETHERPLANE_TOKEN: lab.adminToken },
    timeoutMs,
  });
  assert.equal(reply.code, 0, `${reply.stdout}\n${reply.stderr}\n${lab.logs()}`);
  const done = reply.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { event?: string; report?: Record<string, unknown> })
    .find((e) => e.event === "done");
  assert.ok(done?.report, reply.stdout);
  return done.report;
}
