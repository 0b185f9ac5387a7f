/**
 * `up` given no AoE interface, in a namespace whose interface is up: it serves AoE nowhere (never
 * "every interface that is up"), a volume opened to everyone says why it is not served and how to
 * fix it, and the veth commands `up` prints to try AoE locally work as printed.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { createAoeLink, startInitiator, type AoeLink } from "../../test/lab/aoe-lab.js";
import { apiCaller } from "../../test/lab/api-caller.js";
import type { AoeInitiator } from "../aoe/initiator/aoe-initiator.js";
import type { HostRecord, TaskRecord, VolumeRecord } from "../cluster/model.js";
import { noAoeInterfaceHelp, up, type Up } from "./up.js";

const MiB = 1024 * 1024;
let link: AoeLink;
let running: Up;
let initiator: AoeInitiator;

const { call, settled } = apiCaller(
  () => running.url,
  () => running.adminToken,
);

before(async () => {
  link = await createAoeLink("upnoif");
  running = await up({
    dataDir: path.join(link.dir, "data"),
    host: "127.0.0.1",
    port: 0,
    hostName: "laptop",
    netnsPath: link.targetNs.path,
  });
  initiator = startInitiator(link.initiatorNs, ["ini0"]);
});

after(async () => {
  initiator?.close();
  await running?.stop();
  await link?.close();
});

test("up without --aoe-iface serves no AoE, even on an interface that is up, and says how to fix it", async () => {
  const hosts = await call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
  assert.deepEqual(
    hosts.body.hosts.map((h) => h.exportInterfaces),
    [[]],
  );
  const created = await call<{ volume: VolumeRecord; task: TaskRecord }>(
    "POST",
    "/api/v1/volumes",
    { name: "web", sizeBytes: MiB },
  );
  assert.equal(created.status, 202, JSON.stringify(created.body));
  assert.equal((await settled(created.body.task)).state, "succeeded", "made, served to nobody");
  const opened = await call<{ task: TaskRecord }>("POST", "/api/v1/volumes/web/allow", {
    everyone: true,
  });
  assert.equal(opened.status, 202, JSON.stringify(opened.body));
  const task = await settled(opened.body.task, 30_000);
  assert.equal(task.state, "failed");
  assert.match(task.error?.message ?? "", /no AoE interface to export on; give .*--aoe-iface IF/);
  assert.deepEqual(await initiator.discover({ listenMs: 500 }), [], "nothing answers on tgt0");
});

test("the veth pair `up` prints to try AoE locally is made by its commands, as printed", async () => {
  const help = noAoeInterfaceHelp("");
  assert.match(help, /etherplane up --aoe-iface eth1/);
  const commands = help
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("ip "));
  assert.equal(commands.length, 3, help);
  const ns = await link.net.namespace("try");
  for (const command of commands) await ns.exec("ip", command.split(" ").slice(1));
  for (const ifname of ["ep-san0", "ep-san1"]) {
    const { stdout } = await ns.exec("ip", ["-j", "link", "show", ifname]);
    const [info] = JSON.parse(stdout) as Array<{ flags: string[]; link_type: string }>;
    assert.ok(info?.flags.includes("UP"), `${ifname} is up: ${stdout}`);
    assert.equal(info?.link_type, "ether");
  }
  assert.match(help, /--aoe-iface ep-san0/);
  assert.match(help, /aoe discover --iface ep-san1/);
});
