/**
 * tshark, a dissector we did not write, reads a capture of a whole session with our target: the
 * start-up announcement, discovery, IDENTIFY, reads, writes, config, MAC mask and reserve
 * commands. Every frame must be AoE version 1 and none malformed.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import { createAoeBench, pattern, type AoeBench } from "../../../test/lab/aoe-lab.js";
import { run } from "../../../test/lab/netns.js";
import { ConfigCommand, MaskCommand, ReserveCommand } from "../codec/index.js";
import { macMaskCommand, queryConfigCommand, reserveCommand } from "../initiator/admin.js";
import { enginePaths } from "../initiator/discovery.js";

let link: AoeBench;
before(async () => {
  link = await createAoeBench("tshark", { diskBytes: 1024 * 1024 });
});
after(async () => link?.close());

test("tshark dissects every frame of a session as AoE version 1, none malformed", async () => {
  const capture = `${link.dir}/session.pcap`;
  const tcpdump = link.net.adopt(
    spawn(
      "ip",
      [
        "netns",
        "exec",
        link.initiatorNs.name,
        "tcpdump",
        "-Z",
        "root",
        "--immediate-mode",
        "-B", // a large capture buffer: a busy machine must not drop frames of the session
        "16384",
        "-i",
        "ini0",
        "-U",
        "-s",
        "0",
        "-w",
        capture,
        "ether",
        "proto",
        "0x88a2",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    ),
  );
  await new Promise<void>((resolve, reject) => {
    tcpdump.stderr?.on("data", (d: Buffer) => d.toString().includes("listening on") && resolve());
    tcpdump.once("exit", () => reject(new Error("tcpdump exited")));
  });
  const target = await link.serve("9.4");
  const initiator = link.initiator();
  try {
    const device = await initiator.openDevice(9, 4);
    await device.write(pattern(64 * 1024, 1), 0);
    await device.read(Buffer.alloc(64 * 1024), 0);
    await device.flush();
    const [path] = enginePaths(initiator.engine, device.target);
    assert.ok(path);
    const address = { shelf: 9, slot: 4 };
    await queryConfigCommand(
      initiator.engine,
      path,
      address,
      ConfigCommand.forceSet,
      Buffer.from("etherplane"),
    );
    await macMaskCommand(initiator.engine, path, address, MaskCommand.read);
    await reserveCommand(initiator.engine, path, address, ReserveCommand.read);
  } finally {
    initiator.close();
    await target.stop();
  }
  await new Promise((r) => setTimeout(r, 200));
  tcpdump.kill("SIGINT");
  await new Promise((r) => tcpdump.once("exit", r));

  const { stdout } = await run("tshark", [
    "-r",
    capture,
    "-T",
    "fields",
    "-E",
    "separator=,",
    "-e",
    "frame.number",
    "-e",
    "aoe.version",
    "-e",
    "aoe.response",
    "-e",
    "aoe.cmd",
    "-e",
    "_ws.malformed",
    "-e",
    "_ws.expert.severity",
  ]);
  const rows = stdout
    .trim()
    .split("\n")
    .map((line) => line.split(","));
  assert.ok(
    rows.length > 100,
    `the capture holds the session (${rows.length} frames): ${stdout.slice(0, 300)}`,
  );
  for (const [number, version, , , malformed, severity] of rows) {
    assert.equal(version, "1", `frame ${number} is AoE version 1`);
    assert.equal(malformed ?? "", "", `frame ${number} is not malformed`);
    assert.ok(
      !severity || Number(severity) < 0x00800000,
      `frame ${number}: no expert warning or error (${severity})`,
    );
  }
  const commands = new Set(rows.map((r) => r[3]));
  for (const command of ["0", "1", "2", "3"])
    assert.ok(commands.has(command), `command ${command} was captured`);
  const responses = rows.filter((r) => r[2] === "True" || r[2] === "1").length;
  assert.ok(
    responses > 10,
    `responses were captured and dissected: ${responses} of ${rows.length} rows; sample ${JSON.stringify(rows.slice(0, 5))}`,
  );
  // The start-up announcement is an unsolicited, broadcast version-1 config response.
  const { stdout: first } = await run("tshark", [
    "-r",
    capture,
    "-c",
    "1",
    "-T",
    "fields",
    "-e",
    "eth.dst",
    "-e",
    "aoe.response",
    "-e",
    "aoe.cmd",
  ]);
  assert.match(first.trim(), /^ff:ff:ff:ff:ff:ff\s+(True|1)\s+1$/);
  assert.ok(fs.statSync(capture).size > 0);
});
