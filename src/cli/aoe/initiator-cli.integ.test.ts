/**
 * The initiator's commands as scripts use them: `aoe discover` (aoe-stat lines and --json),
 * `aoe write` from stdin and `aoe read` to stdout, and the exit codes of the usual mistakes.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { createAoeBench, pattern, type AoeBench } from "../../../test/lab/aoe-lab.js";
import { runCli } from "../../../test/lab/cli-process.js";

const MiB = 1024 * 1024;

describe("etherplane aoe discover / read / write", () => {
  let link: AoeBench;

  before(async () => {
    link = await createAoeBench("icli", { diskBytes: 5 * MiB });
    await link.serve("12.3");
  });

  after(async () => link?.close());

  test("discover prints one aoe-stat line per target, and JSON on request", async () => {
    const text = await runCli(["aoe", "discover", "--iface", "ini0", "--timeout", "300"], {
      ns: link.initiatorNs,
    });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^\s+e12\.3\s+0\.005GB {2}ini0 1024 {2}up\n$/);
    const json = await runCli(
      ["aoe", "discover", "--iface", "ini0", "--timeout", "300", "--json"],
      { ns: link.initiatorNs },
    );
    const [found] = JSON.parse(json.stdout) as Array<{
      shelf: number;
      slot: number;
      identify: { sectors: number };
      paths: Array<{ ifname: string; bufferCount: number }>;
    }>;
    assert.equal(found?.shelf, 12);
    assert.equal(found?.identify.sectors, (5 * MiB) / 512);
    assert.deepEqual(
      found?.paths.map((p) => [p.ifname, p.bufferCount]),
      [["ini0", 64]],
    );
  });

  test("write from stdin at an offset, read it back to stdout", async () => {
    const data = pattern(MiB + 777, 4); // not a whole number of sectors
    const written = await runCli(["aoe", "write", "e12.3", "--iface", "ini0", "--offset", "1M"], {
      ns: link.initiatorNs,
      input: data,
    });
    assert.equal(written.code, 0, written.stderr);
    assert.match(
      written.stderr,
      new RegExp(`wrote ${data.length} bytes to e12.3 at offset ${MiB}`),
    );
    assert.ok(
      fs
        .readFileSync(link.disk)
        .subarray(MiB, MiB + data.length)
        .equals(data),
    );
    const read = await runCli(
      [
        "aoe",
        "read",
        "e12.3",
        "--iface",
        "ini0",
        "--offset",
        "1M",
        "--length",
        String(data.length),
      ],
      { ns: link.initiatorNs },
    );
    assert.equal(read.code, 0, read.stderr);
    assert.ok(read.stdoutBytes.equals(data));
    const whole = await runCli(["aoe", "read", "e12.3", "--iface", "ini0"], {
      ns: link.initiatorNs,
    });
    assert.equal(whole.code, 0);
    assert.ok(
      whole.stdoutBytes.equals(fs.readFileSync(link.disk)),
      "the whole device equals the backing file",
    );
  });

  test("exit codes: no such device 3, bad device name 2, past the end 7", async () => {
    const missing = await runCli(["aoe", "read", "e99.1", "--iface", "ini0", "--length", "512"], {
      ns: link.initiatorNs,
    });
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no AoE target answered for e99\.1 on ini0/);
    const badName = await runCli(["aoe", "read", "disk1", "--iface", "ini0"], {
      ns: link.initiatorNs,
    });
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /"disk1" is not an AoE device; write eSHELF\.SLOT/);
    const past = await runCli(["aoe", "write", "e12.3", "--iface", "ini0", "--offset", "5M"], {
      ns: link.initiatorNs,
      input: Buffer.alloc(512),
    });
    assert.equal(past.code, 7);
    assert.match(past.stderr, /past the end of e12\.3/);
    const unknown = await runCli(["aoe", "frobnicate"]);
    assert.equal(unknown.code, 2);
  });
});
