/**
 * When the agent's passes run, over a fake controller link and a fake storage reconciler (the
 * real agent between them): a desired state that arrives while a pass runs starts the next pass
 * as soon as that one ends, not an interval later. The interval here is a minute, so a pass
 * that waited for it could not come within the test's deadline.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "../../foundation/log.js";
import type { DesiredState } from "../agent-protocol.js";
import type { LeaseGrant } from "../controller/host-liveness.js";
import { Agent } from "./agent.js";
import type { ControllerLink } from "./controller-link.js";
import type { StorageReconciler } from "./reconciler.js";

const desiredState = (revision: string) =>
  ({ revision, pools: [], volumes: [] }) as unknown as DesiredState;

test("a desired state that arrives during a pass starts the next pass when it ends", async () => {
  let publish: (state: DesiredState) => void = () => undefined;
  const fakeLink = {
    desired: () => Promise.resolve(desiredState("r1")),
    desiredAfter: (_after: string, _waitMs: number) =>
      new Promise<DesiredState | null>((resolve) => (publish = resolve)),
    renewLease: (): Promise<LeaseGrant> =>
      Promise.resolve({
        renewMs: 60_000,
        deadMs: 600_000,
        selfFenceMs: 300_000,
        state: "up",
      }),
    report: () => Promise.resolve(),
  } as unknown as ControllerLink;
  const passes: string[] = [];
  let release: () => void = () => undefined;
  const fakeReconciler = {
    reconcile: async (desired: DesiredState) => {
      passes.push(desired.revision);
      // The first pass is held until the test lets it end.
      if (passes.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return { volumes: [], pools: [] };
    },
  } as unknown as StorageReconciler;
  const agent = new Agent(fakeLink, fakeReconciler, createLogger("test"), 60_000, () => ({
    hostname: "h",
    agentVersion: "test",
    interfaces: [],
    sanInterfaces: [],
  }));
  const waitFor = async (what: string, done: () => boolean) => {
    for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(done(), `${what}: passes ${JSON.stringify(passes)}`);
  };
  agent.start();
  try {
    await waitFor("the first pass", () => passes.length === 1);
    await waitFor("the watch waiting", () => publish.length === 1);
    publish(desiredState("r2")); // while the first pass runs
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(passes, ["r1"], "no second pass while the first one runs");
    release();
    await waitFor("a second pass on r2", () => passes.length === 2);
    assert.equal(passes[1], "r2");
  } finally {
    release();
    await agent.stop();
  }
});
