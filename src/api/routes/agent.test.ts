/**
 * Join tokens and what an agent token reaches, at the API: the real controller and SQLite store,
 * requests through the real Hono app (no socket). Regression tests for issue 10's repros: one join
 * token joined five times; a join with an existing host's name got that host's id and a new agent
 * token and changed its roles; one agent's report overwrote another host's pools and networks.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inProcessApi } from "../testing/in-process-api.js";

async function bench(now: { ms: number } = { ms: Date.now() }) {
  const api = await inProcessApi(now);
  const { call, admin } = api;
  const joinToken = async (name: string, extra: Record<string, unknown> = {}) => {
    const reply = await call<{ secret: string; token: { expiresMs: number; hostId: string } }>(
      "POST",
      "/api/v1/tokens",
      admin,
      { name, role: "join", ...extra },
    );
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return reply.body;
  };
  const join = (token: string, name: string, roles: string[] = ["storage"]) =>
    call<{ hostId: string; token: string; error: { code: string; message: string } }>(
      "POST",
      "/api/v1/agent/join",
      token,
      { name, roles, exportInterfaces: [] },
    );
  return { ...api, joinToken, join };
}

describe("join tokens", () => {
  test("a join token is used once (the repro: one token joined five times)", async () => {
    const b = await bench();
    const { secret } = await b.joinToken("storage1");
    const first = await b.join(secret, "storage1");
    assert.equal(first.status, 201);
    for (let i = 0; i < 4; i++) {
      const again = await b.join(secret, "storage1");
      assert.equal(again.status, 401, "a spent join token is refused");
      assert.match(again.body.error.message, /used already/);
    }
    // Concurrent joins with one token: exactly one wins.
    const other = await b.joinToken("storage2");
    const replies = await Promise.all([1, 2, 3, 4, 5].map(() => b.join(other.secret, "storage2")));
    assert.deepEqual(replies.map((r) => r.status).sort(), [201, 401, 401, 401, 401]);
    assert.equal((await b.store.listHosts()).length, 2);
    await b.close();
  });

  test("expires after an hour by default, or after --ttl", async () => {
    const b = await bench({ ms: 1_000_000 });
    const plain = await b.joinToken("h1");
    assert.equal(plain.token.expiresMs, 1_000_000 + 3600_000);
    const short = await b.joinToken("h2", { expiresInSeconds: 60 });
    assert.equal(short.token.expiresMs, 1_000_000 + 60_000);
    b.now.ms += 61_000;
    assert.equal((await b.join(short.secret, "h2")).status, 401, "expired after its ttl");
    assert.equal((await b.join(plain.secret, "h1")).status, 201, "still alive within the hour");
    const late = await b.joinToken("h3");
    b.now.ms += 3600_001;
    assert.equal((await b.join(late.secret, "h3")).status, 401, "expired after an hour");
    const tooLong = await b.call("POST", "/api/v1/tokens", b.admin, {
      name: "h4",
      role: "join",
      expiresInSeconds: 30 * 86400,
    });
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.body.error.message, /at most 7 days/);
    await b.close();
  });

  test("bound to its host name; the name must be a host name", async () => {
    const b = await bench();
    const { secret } = await b.joinToken("storage1");
    const wrong = await b.join(secret, "storage9");
    assert.equal(wrong.status, 403);
    assert.match(wrong.body.error.message, /for host "storage1".*--name storage1/);
    assert.equal((await b.join(secret, "storage1")).status, 201, "a refused join spends nothing");
    const bad = await b.call("POST", "/api/v1/tokens", b.admin, {
      name: "../../etc",
      role: "join",
    });
    assert.equal(bad.status, 400);
    await b.close();
  });

  test("a name that exists is refused (the repro: it took over the host); --replace is explicit and revokes the old agent", async () => {
    const b = await bench();
    const first = await b.join((await b.joinToken("storage1")).secret, "storage1");
    assert.equal(first.status, 201);
    const oldAgent = first.body.token;
    assert.equal((await b.call("GET", "/api/v1/agent/desired", oldAgent)).status, 200);

    const impostor = await b.join((await b.joinToken("storage1")).secret, "storage1", [
      "storage",
      "compute",
    ]);
    assert.equal(impostor.status, 409);
    assert.match(impostor.body.error.message, /joined already.*--role join --replace/);
    const host = await b.store.findHostByName("storage1");
    assert.deepEqual(host?.roles, ["storage"], "the refused join changed nothing");
    assert.equal((await b.call("GET", "/api/v1/agent/desired", oldAgent)).status, 200);

    const noSuchHost = await b.call("POST", "/api/v1/tokens", b.admin, {
      name: "ghost",
      role: "join",
      replace: true,
    });
    assert.equal(noSuchHost.status, 404);
    const notJoin = await b.call("POST", "/api/v1/tokens", b.admin, {
      name: "x",
      role: "operator",
      replace: true,
    });
    assert.equal(notJoin.status, 400);

    const replacing = await b.joinToken("storage1", { replace: true });
    assert.equal(replacing.token.hostId, first.body.hostId);
    const replaced = await b.join(replacing.secret, "storage1", ["storage", "compute"]);
    assert.equal(replaced.status, 201);
    assert.equal(replaced.body.hostId, first.body.hostId, "the same host, a new machine");
    assert.equal(
      (await b.call("GET", "/api/v1/agent/desired", oldAgent)).status,
      401,
      "the old agent's token is revoked",
    );
    assert.equal((await b.call("GET", "/api/v1/agent/desired", replaced.body.token)).status, 200);
    const audit = await b.call<{ entries: Array<{ subject: string | null }> }>(
      "GET",
      "/api/v1/audit",
      b.admin,
    );
    assert.ok(audit.body.entries.some((e) => e.subject?.includes("replaces host")));
    await b.close();
  });

  test("join tokens cannot read or write the API, nor act as agents", async () => {
    const b = await bench();
    const { secret } = await b.joinToken("storage1");
    assert.equal((await b.call("GET", "/api/v1/agent/desired", secret)).status, 403);
    assert.equal((await b.call("GET", "/api/v1/hosts", secret)).status, 403);
    await b.close();
  });
});

describe("an agent token reaches only its own host", () => {
  async function twoHosts() {
    const b = await bench();
    const a = await b.join((await b.joinToken("host-a")).secret, "host-a", ["storage", "compute"]);
    const c = await b.join((await b.joinToken("host-c")).secret, "host-c", ["storage", "compute"]);
    assert.equal(a.status, 201);
    assert.equal(c.status, 201);
    const poolA = await b.controller.createPool({
      host: a.body.hostId,
      name: "pa",
      kind: "directory",
      path: "/srv/pa",
    });
    const netA = await b.controller.networks.create({ hostId: a.body.hostId, name: "lan" });
    return { ...b, a: a.body, c: c.body, poolA, netA };
  }

  const inventory = { hostname: "x", agentVersion: "0", interfaces: [] };

  test("PUT /agent/status: another host's pools and networks are left alone", async () => {
    const b = await twoHosts();
    const report = await b.call("PUT", "/api/v1/agent/status", b.c.token, {
      inventory,
      pools: [{ id: b.poolA.id, capacityBytes: 1, freeBytes: 0, error: null }],
      volumes: [],
      foreignTargets: [],
      networks: [{ id: b.netA.id, error: "hijacked" }],
    });
    assert.equal(report.status, 204);
    const pool = (await b.store.listPools({ hostId: b.a.hostId }))[0];
    assert.equal(pool?.capacityBytes, b.poolA.capacityBytes, "host-a's pool is untouched");
    assert.equal(pool?.freeBytes, b.poolA.freeBytes);
    const net = (await b.store.listNetworks({ hostId: b.a.hostId }))[0];
    assert.equal(net?.error, null, "host-a's network is untouched");
    // Its own host's records still move.
    const own = await b.call("PUT", "/api/v1/agent/status", b.a.token, {
      inventory,
      pools: [{ id: b.poolA.id, capacityBytes: 1000, freeBytes: 10, error: null }],
      volumes: [],
      foreignTargets: [],
      networks: [{ id: b.netA.id, error: "no uplink" }],
    });
    assert.equal(own.status, 204);
    assert.equal((await b.store.listPools({ hostId: b.a.hostId }))[0]?.capacityBytes, 1000);
    assert.equal((await b.store.listNetworks({ hostId: b.a.hostId }))[0]?.error, "no uplink");
    await b.close();
  });

  test("GET /agent/desired: only its own host's part", async () => {
    const b = await twoHosts();
    const c = await b.call<{
      hostId: string;
      pools: unknown[];
      networks: unknown[];
      consoles: unknown[];
    }>("GET", "/api/v1/agent/desired", b.c.token);
    assert.equal(c.status, 200);
    assert.equal(c.body.hostId, b.c.hostId);
    assert.deepEqual(c.body.pools, []);
    assert.deepEqual(c.body.networks, []);
    const a = await b.call<{ pools: Array<{ id: string }> }>(
      "GET",
      "/api/v1/agent/desired",
      b.a.token,
    );
    assert.deepEqual(
      a.body.pools.map((p) => p.id),
      [b.poolA.id],
    );
    await b.close();
  });
  test("POST /agent/lease and the long-poll: a renewal answers the lease; no change is a 204", async () => {
    const b = await twoHosts();
    const lease = await b.call<{
      renewMs: number;
      deadMs: number;
      selfFenceMs: number;
      state: string;
    }>("POST", "/api/v1/agent/lease", b.c.token);
    assert.equal(lease.status, 200);
    assert.deepEqual(lease.body, { renewMs: 1000, deadMs: 4000, selfFenceMs: 2000, state: "up" });
    assert.equal(
      (await b.call("POST", "/api/v1/agent/lease", b.admin)).status,
      403,
      "an admin token holds no lease",
    );
    const first = await b.call<{ revision: string }>("GET", "/api/v1/agent/desired", b.c.token);
    const same = await b.call(
      "GET",
      `/api/v1/agent/desired?after=${first.body.revision}&waitMs=20`,
      b.c.token,
    );
    assert.equal(same.status, 204);
    const stale = await b.call<{ revision: string }>(
      "GET",
      "/api/v1/agent/desired?after=older&waitMs=60000",
      b.c.token,
    );
    assert.equal(stale.status, 200, "a revision that is not the current one answers at once");
    assert.equal(stale.body.revision, first.body.revision);
    const tooLong = await b.call("GET", "/api/v1/agent/desired?after=x&waitMs=600000", b.c.token);
    assert.equal(tooLong.status, 400);
    await b.close();
  });

  test("a revoked agent token is refused from its next request, though agent tokens are cached in memory", async () => {
    const b = await twoHosts();
    const renew = (token: string) => b.call("POST", "/api/v1/agent/lease", token);
    for (let i = 0; i < 3; i++) assert.equal((await renew(b.a.token)).status, 200);
    assert.equal((await renew(b.c.token)).status, 200);
    const tokens = await b.call<{ tokens: Array<{ id: string; name: string; role: string }> }>(
      "GET",
      "/api/v1/tokens",
      b.admin,
    );
    const ofA = tokens.body.tokens.find((t) => t.role === "agent" && t.name === "agent:host-a");
    assert.ok(ofA, JSON.stringify(tokens.body));
    assert.equal((await b.call("DELETE", `/api/v1/tokens/${ofA.id}`, b.admin)).status, 204);
    const refused = await renew(b.a.token);
    assert.equal(refused.status, 401, "refused at the very next renewal");
    assert.equal((await b.call("GET", "/api/v1/agent/desired", b.a.token)).status, 401);
    assert.equal((await renew(b.c.token)).status, 200, "another host's agent renews on");
    // Revoked by any writer of the controller's store, not only the token routes.
    const ofC = tokens.body.tokens.find((t) => t.role === "agent" && t.name === "agent:host-c");
    assert.ok(ofC);
    await b.controller.store.updateToken(ofC.id, { revoked: true });
    assert.equal((await renew(b.c.token)).status, 401, "refused after a store write too");
    await b.close();
  });
});
