/**
 * Console sessions through the real controller (HTTP upgrades on loopback, a real SQLite file):
 * capped per token and in all, with the reason in the refusal, and an attached session ends when
 * idle, telling the client why. The domain is recorded as running on a host; the test plays the
 * host's agent by connecting back as that host's agent token.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Duplex } from "node:stream";
import { after, before, test } from "node:test";
import { upgradeToConsole } from "../cluster/agent/controller-link.js";
import { domainObserved } from "../cluster/testing/records.js";
import { startController, type StartedController } from "../daemon/start-controller.js";
import { isEtherplaneError } from "../foundation/errors.js";

let dir: string;
let started: StartedController;
let hostId: string;
const secrets: Record<string, string> = {};
const open: Duplex[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-console-limits-"));
  started = await startController({
    dataDir: dir,
    host: "127.0.0.1",
    port: 0,
    limits: {
      consoles: { sessionsMax: 3, sessionsPerOwnerMax: 2, agentWaitMs: 120_000, idleMs: 1000 },
    },
  });
  const ctl = started.controller;
  for (const name of ["alice", "bob", "carol"])
    secrets[name] = (await ctl.auth.createToken({ name, role: "operator" })).secret;
  const host = await ctl.agents.registerHost({
    name: "c1",
    roles: ["compute"],
    exportInterfaces: [],
  });
  hostId = host.id;
  secrets["agent"] = (
    await ctl.auth.createToken({ name: "agent:c1", role: "agent", hostId })
  ).secret;
  await ctl.domains.importFile('name = "web"\n', "web.cfg");
  const domain = await ctl.store.findDomainByName("web");
  assert.ok(domain);
  await ctl.store.updateDomain(domain.id, { hostId });
  await ctl.store.observeDomain(
    domain.id,
    domainObserved({ appliedGeneration: domain.generation + 1, atMs: Date.now() }),
  );
});

after(async () => {
  for (const socket of open) socket.destroy();
  await started?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const consoleUrl = () => new URL("/api/v1/domains/web/console", started.server.url);
async function attach(who: string): Promise<Duplex> {
  const socket = await upgradeToConsole(consoleUrl(), secrets[who]!);
  open.push(socket);
  return socket;
}

async function until<T>(what: string, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("at most 2 consoles per token and 3 in all; a refusal says which bound and what to do", async () => {
  await attach("alice");
  await attach("alice");
  await assert.rejects(
    upgradeToConsole(consoleUrl(), secrets["alice"]!),
    (error) =>
      isEtherplaneError(error) &&
      error.code === "UNAVAILABLE" &&
      /this token has 2 consoles open already \(at most 2\); leave one/.test(error.message),
  );
  const bobs = await attach("bob");
  await assert.rejects(
    upgradeToConsole(consoleUrl(), secrets["carol"]!),
    (error) => isEtherplaneError(error) && /3 consoles are open already/.test(error.message),
  );
  // Bob leaves: a slot is free again, for anyone.
  bobs.destroy();
  await until("bob's session to close", () =>
    started.controller.consoles.count() === 2 ? true : undefined,
  );
  await attach("carol");
  assert.equal(started.controller.consoles.count(), 3);
  started.controller.consoles.closeAll();
});

test("an attached console with no byte either way ends, and says why", async () => {
  const client = await attach("bob");
  let seen = "";
  let ended = false;
  client.on("data", (chunk: Buffer) => (seen += chunk.toString()));
  client.on("end", () => (ended = true));
  client.on("close", () => (ended = true));
  const sessionId = await until(
    "the session to wait for the agent",
    () => started.controller.consoles.pending(hostId)[0]?.sessionId,
  );
  const agentUrl = new URL(`/api/v1/agent/console/${sessionId}`, started.server.url);
  const agent = await upgradeToConsole(agentUrl, secrets["agent"]!);
  open.push(agent);
  agent.write("login: ");
  await until("the guest's bytes at the client", () =>
    seen.includes("login: ") ? true : undefined,
  );
  await until("the idle end", () => (ended ? true : undefined));
  assert.match(seen, /etherplane: console of web idle for 1 s; closed/);
  assert.equal(started.controller.consoles.count(), 0);
});
