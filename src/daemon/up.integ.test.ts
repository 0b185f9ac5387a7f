/**
 * The control plane end to end, as a newcomer uses it: `up` (controller + agent in one process,
 * real SQLite file, the agent's AoE target on a veth in a test namespace), then the volume
 * lifecycle through the real HTTP API, each volume's content read back over AoE with our
 * initiator; and the API's security: 401, 403 per role, 400 naming the field, the audit log.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { createAoeLink, pattern, startInitiator, type AoeLink } from "../../test/lab/aoe-lab.js";
import { apiCaller } from "../../test/lab/api-caller.js";
import { upOnLink } from "../../test/lab/up-box.js";
import type { AoeInitiator } from "../aoe/initiator/aoe-initiator.js";
import { macMaskCommand, reserveCommand } from "../aoe/initiator/admin.js";
import { isEtherplaneError } from "../foundation/errors.js";
import { enginePaths } from "../aoe/initiator/discovery.js";
import {
  DirectiveCommand,
  MaskCommand,
  MaskError,
  ReserveCommand,
  macToString,
  parseMac,
} from "../aoe/codec/index.js";
import type { TaskRecord, VolumeRecord } from "../cluster/model.js";
import type { Up } from "./up.js";

const MiB = 1024 * 1024;

describe("etherplane up: volumes through the API, read over AoE", () => {
  let link: AoeLink;
  let running: Up;
  let admin: string;
  let initiator: AoeInitiator;

  const { call, settled: waitTask } = apiCaller(
    () => running.url,
    () => admin,
  );

  async function mutate(
    method: string,
    route: string,
    body?: unknown,
  ): Promise<{ volume: VolumeRecord; task: TaskRecord }> {
    const reply = await call<{ volume: VolumeRecord; task: TaskRecord }>(method, route, body);
    assert.equal(reply.status, 202, JSON.stringify(reply.body));
    const task = await waitTask(reply.body.task);
    assert.equal(task.state, "succeeded", JSON.stringify(task));
    return { volume: reply.body.volume, task };
  }

  const volume = async (name: string) =>
    (await call<{ volume: VolumeRecord }>("GET", `/api/v1/volumes/${name}`)).body.volume;
  const device = (v: VolumeRecord) => initiator.openDevice(v.shelf, v.slot, { listenMs: 300 });
  const ourMac = () => macToString(initiator.sockets[0]?.mac ?? Buffer.alloc(6));

  before(async () => {
    link = await createAoeLink("up");
    running = await upOnLink(link);
    assert.ok(running.adminToken, "the first run makes an admin token");
    admin = running.adminToken;
    initiator = startInitiator(link.initiatorNs, ["ini0"]);
  });

  after(async () => {
    initiator?.close();
    await running?.stop();
    await link?.close();
  });

  test("create: a volume becomes ready at a unique address, seen by nobody until allowed, and holds what is written over AoE", async () => {
    const { volume: web } = await mutate("POST", "/api/v1/volumes", {
      name: "web",
      sizeBytes: 16 * MiB,
    });
    const mail = (await mutate("POST", "/api/v1/volumes", { name: "mail", sizeBytes: 8 * MiB }))
      .volume;
    assert.notDeepEqual([web.shelf, web.slot], [mail.shelf, mail.slot], "unique addresses");
    let ready = await volume("web");
    assert.equal(ready.state, "ready");
    assert.equal(ready.exported, true);
    assert.deepEqual([ready.allow, ready.allowEveryone], [[], false]);
    await assert.rejects(device(ready), /no AoE target answered/, "a new volume is closed");
    assert.deepEqual(await initiator.discover({ listenMs: 300 }), [], "nothing is announced");
    await mutate("POST", "/api/v1/volumes/web/allow", { macs: [ourMac()] });
    ready = await volume("web");
    const aoe = await device(ready);
    assert.equal(aoe.sizeBytes, 16 * MiB);
    await aoe.write(pattern(MiB, 1), 0);
    const back = Buffer.alloc(MiB);
    await aoe.read(back, 0);
    assert.ok(back.equals(pattern(MiB, 1)));
    const file = path.join(link.dir, "data", "pools", "default", `${ready.id}.img`);
    assert.ok(
      fs.readFileSync(file).subarray(0, MiB).equals(pattern(MiB, 1)),
      "the bytes are in the pool's file",
    );
    const taken = await call("POST", "/api/v1/volumes", { name: "web", sizeBytes: MiB });
    assert.equal(taken.status, 409, "a taken name is a conflict");
    const clash = await call("POST", "/api/v1/volumes", {
      name: "other",
      sizeBytes: MiB,
      address: `${web.shelf}.${web.slot}`,
    });
    assert.equal(clash.status, 409, "a taken address is a conflict");
  });

  test("snapshot and clone hold the source's content at that time", async () => {
    const web = await volume("web");
    await mutate("POST", "/api/v1/volumes/web/snapshot", { name: "web-snap" });
    await mutate("POST", "/api/v1/volumes/web/clone", { name: "web-clone" });
    const aoe = await device(web);
    await aoe.write(pattern(MiB, 2), 0); // the source changes afterwards
    const snap = await volume("web-snap");
    assert.equal(snap.kind, "snapshot");
    assert.equal(snap.exported, false, "snapshots are not exported until asked");
    await mutate("POST", "/api/v1/volumes/web-snap/export");
    for (const name of ["web-snap", "web-clone"]) {
      const copy = await device(await volume(name));
      const back = Buffer.alloc(MiB);
      await copy.read(back, 0);
      assert.ok(back.equals(pattern(MiB, 1)), `${name} holds the content at copy time`);
    }
    const snapDevice = await device(await volume("web-snap"));
    await assert.rejects(
      snapDevice.write(Buffer.alloc(512), 0),
      "a snapshot is exported read-only",
    );
  });

  test("resize grows the volume, and the export shows the new size", async () => {
    await mutate("POST", "/api/v1/volumes/web/resize", { sizeBytes: 32 * MiB });
    const web = await volume("web");
    assert.equal(web.sizeBytes, 32 * MiB);
    assert.equal((await device(web)).sizeBytes, 32 * MiB);
    const shrink = await call<{ error: { field: string } }>("POST", "/api/v1/volumes/web/resize", {
      sizeBytes: MiB,
    });
    assert.equal(shrink.status, 400);
    assert.equal(shrink.body.error.field, "sizeBytes");
  });

  test("allow and deny: only allowed MACs reach the export (AoE MAC mask), changed live", async () => {
    const other = "02:00:00:00:00:99";
    await mutate("POST", "/api/v1/volumes/mail/allow", { macs: [other] });
    const mail = await volume("mail");
    assert.deepEqual(mail.allow, [other]);
    await assert.rejects(device(mail), /no AoE target answered/, "this host's MAC is masked out");
    const ours = ourMac();
    await mutate("POST", "/api/v1/volumes/mail/allow", { macs: [ours] });
    assert.equal((await device(await volume("mail"))).sizeBytes, 8 * MiB, "allowed again");
    await mutate("POST", "/api/v1/volumes/mail/deny", { macs: [other, ours] });
    assert.deepEqual((await volume("mail")).allow, []);
    await assert.rejects(device(mail), /no AoE target answered/, "denied all: closed, not open");
  });

  test("allow --everyone is the admin's: it opens the volume to the segment, deny --everyone closes it", async () => {
    const operator = (
      await call<{ secret: string }>("POST", "/api/v1/tokens", {
        name: "op-open",
        role: "operator",
      })
    ).body.secret;
    const refused = await call("POST", "/api/v1/volumes/mail/allow", { everyone: true }, operator);
    assert.equal(refused.status, 403, "an operator cannot open a volume to everyone");
    const empty = await call<{ error: { field: string } }>(
      "POST",
      "/api/v1/volumes/mail/allow",
      {},
    );
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.field, "macs");
    const { volume: opened } = await mutate("POST", "/api/v1/volumes/mail/allow", {
      everyone: true,
    });
    assert.deepEqual([opened.allowEveryone, opened.allow], [true, []]);
    assert.equal((await device(opened)).sizeBytes, 8 * MiB, "seen by a MAC nobody named");
    await mutate("POST", "/api/v1/volumes/mail/deny", { everyone: true });
    assert.equal((await volume("mail")).allowEveryone, false);
    await assert.rejects(device(opened), /no AoE target answered/, "closed again");
  });

  test("an allowed host cannot change a managed volume's reservation or mask over the wire", async () => {
    const web = await volume("web");
    const [target] = await initiator.discover({ shelf: web.shelf, slot: web.slot, listenMs: 300 });
    assert.ok(target, "web is allowed for the initiator");
    const [path0] = enginePaths(initiator.engine, target);
    assert.ok(path0);
    const address = { shelf: web.shelf, slot: web.slot };
    const stranger = parseMac("02:00:00:00:00:77") as Buffer;
    // The agent's exports are accessLocked: a forced reservation is refused (AoE error 2)...
    await assert.rejects(
      reserveCommand(initiator.engine, path0, address, ReserveCommand.forceSet, [stranger]),
      (error: unknown) =>
        isEtherplaneError(error, "REFUSED") && /AoE error 2\)/.test(error.message),
    );
    const read = await reserveCommand(initiator.engine, path0, address, ReserveCommand.read);
    assert.deepEqual(read.macs.map(macToString), [], "no reservation was set");
    // ... and so is a mask edit that would delete the allowed MAC (an empty list opens the volume
    // to every host): the reply says so and shows the list unchanged.
    const maskBefore = await macMaskCommand(initiator.engine, path0, address, MaskCommand.read);
    assert.ok(maskBefore.directives.length > 0, "the volume has a mask");
    const edit = await macMaskCommand(
      initiator.engine,
      path0,
      address,
      MaskCommand.edit,
      maskBefore.directives.map(({ mac }) => ({ dcmd: DirectiveCommand.delete, mac })),
    );
    assert.equal(edit.merror, MaskError.unspecified);
    assert.deepEqual(
      edit.directives.map((d) => macToString(d.mac)),
      maskBefore.directives.map((d) => macToString(d.mac)),
    );
    assert.equal((await device(web)).sizeBytes, 32 * MiB, "the allowed host still does I/O");
  });

  test("delete: refused while exported, then unexport and delete; the file is gone", async () => {
    const clone = await volume("web-clone");
    const refused = await call("DELETE", "/api/v1/volumes/web-clone");
    assert.equal(refused.status, 409);
    await mutate("POST", "/api/v1/volumes/web-clone/unexport");
    await mutate("DELETE", "/api/v1/volumes/web-clone");
    assert.equal((await call("GET", "/api/v1/volumes/web-clone")).status, 404);
    assert.equal(
      fs.existsSync(path.join(link.dir, "data", "pools", "default", `${clone.id}.img`)),
      false,
    );
    const list = await call<{ volumes: VolumeRecord[] }>("GET", "/api/v1/volumes");
    assert.deepEqual(list.body.volumes.map((v) => v.name).sort(), ["mail", "web", "web-snap"]);
  });

  test("security: 401 without a token, 403 by role, agent and join tokens only do agent things", async () => {
    assert.equal((await call("GET", "/api/v1/volumes", undefined, null)).status, 401);
    assert.equal(
      (await call("GET", "/api/v1/volumes", undefined, "ept_not-a-real-token")).status,
      401,
    );
    const make = async (role: string) => {
      const reply = await call<{ secret: string }>("POST", "/api/v1/tokens", {
        name: `${role}-1`,
        role,
      });
      assert.equal(reply.status, 201);
      return reply.body.secret;
    };
    const viewer = await make("viewer");
    const operator = await make("operator");
    const joinReply = await call<{ secret: string }>("POST", "/api/v1/tokens", {
      name: "storage2",
      role: "join",
    });
    assert.equal(joinReply.status, 201);
    const join = joinReply.body.secret;
    assert.equal((await call("GET", "/api/v1/volumes", undefined, viewer)).status, 200);
    assert.equal(
      (await call("POST", "/api/v1/volumes", { name: "v", sizeBytes: MiB }, viewer)).status,
      403,
    );
    assert.equal(
      (await call("POST", "/api/v1/tokens", { name: "x", role: "admin" }, operator)).status,
      403,
      "operators cannot make tokens",
    );
    assert.equal((await call("GET", "/api/v1/volumes", undefined, join)).status, 403);
    const joined = await call<{ token: string }>(
      "POST",
      "/api/v1/agent/join",
      { name: "storage2", roles: ["storage"], exportInterfaces: [] },
      join,
    );
    assert.equal(joined.status, 201);
    const agentToken = joined.body.token;
    assert.equal((await call("GET", "/api/v1/agent/desired", undefined, agentToken)).status, 200);
    assert.equal((await call("GET", "/api/v1/volumes", undefined, agentToken)).status, 403);
    assert.equal(
      (await call("POST", "/api/v1/volumes", { name: "v", sizeBytes: MiB }, agentToken)).status,
      403,
    );
    assert.equal((await call("GET", "/api/v1/audit", undefined, agentToken)).status, 403);
  });

  test("bad input: 400 naming the field and the fix", async () => {
    const wrongType = await call<{ error: { code: string; field: string; message: string } }>(
      "POST",
      "/api/v1/volumes",
      { name: "x", sizeBytes: "big" },
    );
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.error.field, "sizeBytes");
    const unknown = await call<{ error: { message: string } }>("POST", "/api/v1/volumes", {
      name: "x",
      sizeBytes: MiB,
      colour: "red",
    });
    assert.equal(unknown.status, 400);
    const badName = await call<{ error: { field: string; message: string } }>(
      "POST",
      "/api/v1/volumes",
      { name: "Bad Name!", sizeBytes: MiB },
    );
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error.field, "name");
    assert.match(badName.body.error.message, /use 1-63 of a-z/);
    const badSize = await call<{ error: { field: string } }>("POST", "/api/v1/volumes", {
      name: "x",
      sizeBytes: 1000,
    });
    assert.equal(badSize.body.error.field, "sizeBytes");
    const notJson = await call("POST", "/api/v1/volumes", "{nope");
    assert.equal(notJson.status, 400);
  });

  test("the audit log records each mutating call: who, what, when, result", async () => {
    const { body } = await call<{
      entries: Array<{
        actor: string;
        method: string;
        path: string;
        status: number;
        result: string;
        subject: string | null;
      }>;
    }>("GET", "/api/v1/audit?limit=1000");
    const creates = body.entries.filter((e) => e.method === "POST" && e.path === "/api/v1/volumes");
    assert.ok(
      creates.some(
        (e) => e.actor === "admin" && e.result === "ok" && /volume web/.test(e.subject ?? ""),
      ),
    );
    assert.ok(
      creates.some((e) => e.result === "error" && e.status === 403 && e.actor === "viewer-1"),
      "refused calls are audited too",
    );
    assert.ok(body.entries.some((e) => e.method === "DELETE" && e.status === 202));
    assert.ok(
      body.entries.every((e) => !JSON.stringify(e).includes(admin)),
      "no secret in the audit log",
    );
  });
});
