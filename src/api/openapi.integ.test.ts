/**
 * The OpenAPI document against the app that serves it, over a real SQLite store: the document is
 * public, is valid OpenAPI 3 (checked by a real validator), lists exactly the routes the app
 * serves, and says truthfully what each needs (a bearer token, and the errors that come with it).
 * Request bodies refuse unknown properties, so a client's typo is an error rather than ignored.
 */
import SwaggerParser from "@apidevtools/swagger-parser";
import { z } from "@hono/zod-openapi";
import type { OpenAPI } from "openapi-types";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { Controller } from "../cluster/controller/controller.js";
import type { Store } from "../cluster/store/store.js";
import { openSqliteStore } from "../cluster/store/sqlite/index.js";
import { createApi } from "./app.js";
import { VolumeSchema } from "./schemas.js";

const DOC_PATH = "/api/v1/openapi.json";
/** Routes anyone may call: the document itself and the health check. */
const PUBLIC_PATHS = new Set([DOC_PATH, "/api/v1/health"]);
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"] as const;

/** The parts of an OpenAPI 3 document this test reads. */
interface Operation {
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, unknown>;
}
interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  pattern?: string;
}
interface Document {
  openapi: string;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components?: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, unknown> };
}

let dir: string;
let store: Store;
let app: ReturnType<typeof createApi>;
let doc: Document;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-openapi-"));
  store = await openSqliteStore(path.join(dir, "controller.db"));
  app = createApi({ controller: new Controller(store) });
  const response = await app.request(DOC_PATH);
  assert.equal(response.status, 200);
  doc = (await response.json()) as Document;
});

after(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Every documented operation as "METHOD /path" with its operation. */
function operations(): Array<{ key: string; path: string; method: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([p, item]) =>
    METHODS.flatMap((m) => {
      const op = item[m];
      return op ? [{ key: `${m.toUpperCase()} ${p}`, path: p, method: m, op }] : [];
    }),
  );
}

function resolve(schema: Schema): Schema {
  if (schema.$ref === undefined) return schema;
  const name = schema.$ref.replace("#/components/schemas/", "");
  const found = doc.components?.schemas?.[name];
  assert.ok(found, `dangling $ref ${schema.$ref}`);
  return resolve(found);
}

/** JSON pointers (from the body's root) of object schemas that accept unknown properties. */
function openObjects(schema: Schema, at: string, seen = new Set<Schema>()): string[] {
  const s = resolve(schema);
  if (seen.has(s)) return [];
  seen.add(s);
  const found: string[] = [];
  if (s.type === "object" || s.properties) {
    if (s.additionalProperties !== false) found.push(at || "(body)");
    for (const [name, child] of Object.entries(s.properties ?? {}))
      found.push(...openObjects(child, `${at}/${name}`, seen));
  }
  if (s.items) found.push(...openObjects(s.items, `${at}/[]`, seen));
  for (const child of [...(s.allOf ?? []), ...(s.anyOf ?? []), ...(s.oneOf ?? [])])
    found.push(...openObjects(child, at, seen));
  return found;
}

test("the document is served without a token, as JSON", async () => {
  const response = await app.request(DOC_PATH);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.match(doc.openapi, /^3\.\d+\.\d+$/);
});

test("the document is valid OpenAPI 3 (swagger-parser, against the official schema)", async () => {
  // validate() dereferences in place: give it a copy so the other tests see the $refs.
  await SwaggerParser.validate(structuredClone(doc) as unknown as OpenAPI.Document);
  // The validator is really checking: the same document without its required `info` fails.
  const broken = structuredClone(doc) as unknown as Partial<OpenAPI.Document>;
  delete broken.info;
  await assert.rejects(SwaggerParser.validate(broken as OpenAPI.Document), /info/);
});

test("every route the app serves is documented, and every documented route is served", () => {
  const served = new Set(
    app.routes
      // "ALL" entries are middleware (body limit, authentication), not endpoints.
      .filter((r) => r.method !== "ALL" && r.path !== DOC_PATH)
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
  );
  const documented = new Set(operations().map((o) => o.key));
  assert.deepEqual(
    [...served].filter((k) => !documented.has(k)),
    [],
    "served but not in the document",
  );
  assert.deepEqual(
    [...documented].filter((k) => !served.has(k)),
    [],
    "documented but not served",
  );
  assert.ok(documented.size >= 20, `only ${documented.size} operations documented`);
});

test("every {param} of a path is documented as a path parameter", () => {
  for (const { key, path: p, op } of operations()) {
    const inPath = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    const declared = (op.parameters ?? [])
      .filter((x) => x.in === "path")
      .map((x) => x.name)
      .sort();
    assert.deepEqual(declared, inPath, key);
  }
});

test("every operation but health and the document needs a bearer token, and says so", async () => {
  assert.deepEqual(doc.components?.securitySchemes?.["bearer"], {
    type: "http",
    scheme: "bearer",
  });
  for (const { key, path: p, method, op } of operations()) {
    const url = p.replace(/\{\w+\}/g, "x");
    const response = await app.request(url, {
      method: method.toUpperCase(),
      ...(op.requestBody ? { headers: { "content-type": "application/json" }, body: "{}" } : {}),
    });
    if (PUBLIC_PATHS.has(p)) {
      assert.equal(op.security, undefined, `${key} is public but declares security`);
      assert.equal(response.status, 200, key);
      continue;
    }
    assert.deepEqual(op.security, [{ bearer: [] }], `${key} declares no bearer security`);
    // The document's claim matches the app: without a token, refused before anything else.
    assert.equal(response.status, 401, `${key} without a token`);
    for (const status of ["400", "401", "403"])
      assert.ok(op.responses?.[status], `${key} does not document its ${status} response`);
  }
});

test("every request body refuses unknown properties (additionalProperties: false)", () => {
  const open: string[] = [];
  let bodies = 0;
  for (const { key, op } of operations()) {
    for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
      assert.ok(media.schema, `${key} ${type} has no schema`);
      bodies++;
      open.push(...openObjects(media.schema, "").map((at) => `${key} ${at}`));
    }
  }
  assert.ok(bodies >= 10, `only ${bodies} request bodies documented`);
  assert.deepEqual(open, []);
});

test("the app refuses an unknown property in a body with 400 naming it", async () => {
  const { secret } = await new Controller(store).auth.createToken({ name: "t", role: "admin" });
  const response = await app.request("/api/v1/volumes", {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "v1", sizeBytes: 1 << 20, sizeByte: 1 }),
  });
  assert.equal(response.status, 400);
  assert.match(JSON.stringify(await response.json()), /sizeByte\b/);
});

test("every pattern is a plain regular expression (no JavaScript flags leaked into it)", () => {
  const patterns: string[] = [];
  JSON.stringify(doc, (k, v: unknown) => {
    if (k === "pattern" && typeof v === "string") patterns.push(v);
    return v;
  });
  assert.ok(patterns.length > 0);
  for (const pattern of patterns) {
    assert.doesNotThrow(() => new RegExp(pattern, "u"), pattern);
    assert.doesNotMatch(pattern, /\$\/[a-z]+$/, `${pattern} ends in a regex literal's flags`);
  }
});

test("the volume list (sent as the store's own JSON) is what its schema says", async () => {
  const { secret } = await new Controller(store).auth.createToken({ name: "v", role: "viewer" });
  await store.createHost({
    id: "host-1",
    name: "h1",
    roles: ["storage"],
    exportInterfaces: [],
    inventory: null,
    lastSeenMs: null,
    maintenance: null,
    createdMs: 1,
  });
  const pool = {
    id: "pool-1",
    name: "p1",
    hostId: "host-1",
    kind: "directory" as const,
    path: "/srv/p1",
    devices: [],
    capacityBytes: null,
    freeBytes: null,
    createdMs: 1,
  };
  await store.createPool(pool);
  for (const [i, name] of ["b", "a"].entries())
    await store.createVolume({
      id: `vol-${name}`,
      name,
      kind: "volume",
      poolId: pool.id,
      hostId: pool.hostId,
      sizeBytes: 2 ** 40,
      allocatedBytes: i === 0 ? null : 4096,
      sourceId: null,
      shelf: 1,
      slot: i,
      exported: i === 0,
      allow: i === 0 ? [] : ["00:16:3e:00:00:13"],
      allowEveryone: false,
      grants: [],
      appliedGeneration: 0,
      state: "failed",
      error: 'said "no"\n',
      generation: 1,
      createdMs: 1,
      updatedMs: 2,
    });
  const response = await app.request("/api/v1/volumes", {
    headers: { authorization: `Bearer ${secret}` },
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  const listed = z
    .object({ volumes: z.array(VolumeSchema.strict()), nextCursor: z.string().nullable() })
    .strict()
    .parse(await response.json());
  assert.deepEqual(listed.volumes, await store.listVolumes());
  assert.deepEqual(
    listed.volumes.map((v) => v.name),
    ["a", "b"],
  );
});
