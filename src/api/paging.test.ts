/**
 * Every list endpoint pages (`limit`, `cursor`, `nextCursor`), through the real controller over
 * HTTP on loopback with a real SQLite file; the CLI's reader of all pages gets every record once.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ApiClient } from "../cli/client/api-client.js";
import { requestAllPages } from "../cli/client/pages.js";
import { page, PAGE_LIMIT_MAX } from "./paging.js";
import { HostListReply, VolumeListReply } from "./replies.js";
import { httpController } from "./testing/http-controller.js";

test("page(): ascending and descending, after the cursor's key, nextCursor only when more", () => {
  const items = ["d", "a", "c", "b", "e"];
  const first = page(items, (x) => x, { limit: 2 });
  assert.deepEqual(first.items, ["a", "b"]);
  assert.ok(first.nextCursor);
  const second = page(items, (x) => x, { limit: 2, cursor: first.nextCursor });
  assert.deepEqual(second.items, ["c", "d"]);
  const third = page(items, (x) => x, { limit: 2, cursor: second.nextCursor ?? "" });
  assert.deepEqual(third, { items: ["e"], nextCursor: null });
  assert.deepEqual(page(items, (x) => x, { limit: 5 }).nextCursor, null, "exactly full: no more");
  const down = page(items, (x) => x, { limit: 3 }, true);
  assert.deepEqual(down.items, ["e", "d", "c"]);
  assert.deepEqual(page(items, (x) => x, { cursor: down.nextCursor ?? "" }, true).items, [
    "b",
    "a",
  ]);
  // A record removed meanwhile shifts nothing: the next page starts after the cursor's key.
  assert.deepEqual(
    page(["a", "c", "d", "e"], (x) => x, { limit: 2, cursor: first.nextCursor ?? "" }).items,
    ["c", "d"],
  );
  assert.throws(() => page(items, (x) => x, { cursor: "not a cursor!" }), /cursor: not a cursor/);
});

describe("list endpoints over HTTP", () => {
  const api = httpController("ep-paging-");
  const { call } = api;

  /** Follows nextCursor with `limit`; returns the pages' items in order. */
  async function pages(
    route: string,
    field: string,
    limit: number,
    start: string | null = null,
  ): Promise<unknown[][]> {
    const found: unknown[][] = [];
    let cursor: string | null = start;
    for (let i = 0; i < 50; i++) {
      const sep = route.includes("?") ? "&" : "?";
      const reply: {
        status: number;
        body: Record<string, unknown> & { nextCursor: string | null };
      } = await call<Record<string, unknown> & { nextCursor: string | null }>(
        "GET",
        `${route}${sep}limit=${limit}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.ok("nextCursor" in reply.body, `${route} answers nextCursor`);
      found.push(reply.body[field] as unknown[]);
      if (reply.body.nextCursor === null) return found;
      cursor = reply.body.nextCursor;
    }
    assert.fail(`${route}: no last page`);
  }

  before(async () => {
    const ctl = api.started.controller;
    for (const name of ["h3", "h1", "h5", "h2", "h4"]) {
      const host = await ctl.agents.registerHost({
        name,
        roles: ["storage"],
        exportInterfaces: [],
      });
      await ctl.createPool({
        host: host.id,
        name: "default",
        kind: "directory",
        path: `/srv/${name}`,
      });
    }
    for (let i = 0; i < 4; i++) await ctl.auth.createToken({ name: `viewer-${i}`, role: "viewer" });
    for (const name of ["v3", "v1", "v5", "v2", "v4"]) {
      const reply = await call("POST", "/api/v1/volumes", {
        name,
        sizeBytes: 1 << 20,
        pool: "default",
      });
      assert.equal(reply.status, 202, JSON.stringify(reply.body));
    }
  });

  const names = (list: unknown[]) => list.map((x) => (x as { name: string }).name);

  test("hosts, pools, volumes, tokens, tasks, audit: pages of 2 hold every record once, in order", async () => {
    const hosts = await pages("/api/v1/hosts", "hosts", 2);
    assert.deepEqual(hosts.map(names), [["h1", "h2"], ["h3", "h4"], ["h5"]]);
    const pools = (await pages("/api/v1/pools", "pools", 2)).flat();
    assert.equal(pools.length, 5);
    const volumes = await pages("/api/v1/volumes", "volumes", 2);
    assert.deepEqual(volumes.map(names), [["v1", "v2"], ["v3", "v4"], ["v5"]]);
    // Tokens page by (created, id): tokens made in the same millisecond come in id order.
    const tokens = (await pages("/api/v1/tokens", "tokens", 2)).flat() as Array<{
      name: string;
      id: string;
      createdMs: number;
    }>;
    assert.deepEqual(
      names(tokens).sort(),
      ["admin", "viewer-0", "viewer-1", "viewer-2", "viewer-3"],
      "every token once",
    );
    const keys = tokens.map((t) => `${String(t.createdMs).padStart(16, "0")}\u0000${t.id}`);
    assert.deepEqual(keys, [...keys].sort(), "in (created, id) order");
    const tasks = (await pages("/api/v1/tasks", "tasks", 2)).flat() as Array<{
      id: string;
      createdMs: number;
    }>;
    assert.equal(tasks.length, 5, "one task per volume");
    assert.equal(new Set(tasks.map((t) => t.id)).size, 5);
    for (let i = 1; i < tasks.length; i++)
      assert.ok(tasks[i - 1]!.createdMs >= tasks[i]!.createdMs, "newest first");
    const audit = (await pages("/api/v1/audit", "entries", 2, "0")).flat() as Array<{
      id: number;
    }>;
    assert.ok(audit.length >= 5, `${audit.length} audit entries`);
    for (let i = 1; i < audit.length; i++)
      assert.ok(audit[i - 1]!.id < audit[i]!.id, "oldest first");
    for (const [route, field] of [
      ["/api/v1/domains", "domains"],
      ["/api/v1/networks", "networks"],
      ["/api/v1/aoe/foreign-targets", "targets"],
    ] as const)
      assert.deepEqual(await pages(route, field, 2), [[]], `${route}: one empty page`);
  });

  test("a filter and a page together; bounds: limit over the maximum and a bad cursor are 400", async () => {
    const h1 = await call<{ volumes: unknown[]; nextCursor: string | null }>(
      "GET",
      "/api/v1/volumes?limit=1",
    );
    assert.equal(h1.body.volumes.length, 1);
    assert.notEqual(h1.body.nextCursor, null);
    const tooMany = await call<{ error: { field: string } }>(
      "GET",
      `/api/v1/hosts?limit=${PAGE_LIMIT_MAX + 1}`,
    );
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.field, "limit");
    const badCursor = await call<{ error: { message: string } }>(
      "GET",
      "/api/v1/hosts?cursor=%21%21",
    );
    assert.equal(badCursor.status, 400);
    assert.match(badCursor.body.error.message, /pass the nextCursor of the previous page/);
    const defaultPage = await call<{ hosts: unknown[] }>("GET", "/api/v1/hosts");
    assert.equal(defaultPage.body.hosts.length, 5, "a default limit of 100");
  });

  test("the CLI's reader follows every page", async () => {
    const client = new ApiClient({ baseUrl: api.started.server.url, token: api.admin });
    const all = await requestAllPages(client, "/api/v1/hosts", "hosts", HostListReply, {
      pageLimit: 2,
    });
    assert.deepEqual(names(all.hosts), ["h1", "h2", "h3", "h4", "h5"]);
    const volumes = await requestAllPages(
      client,
      "/api/v1/volumes?host=h1",
      "volumes",
      VolumeListReply,
      { pageLimit: 1 },
    );
    assert.ok(volumes.volumes.every((v) => typeof v.name === "string"));
  });
});
