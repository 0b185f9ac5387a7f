import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { xlFixture } from "./testing/fake-xl-runner.js";
import { parseXlListLong } from "./xl-list-long.js";

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseXlListLong(text),
    (error: unknown) => {
      assert.ok(isEtherplaneError(error, "PROTOCOL"), String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe("xl list -l", () => {
  test("dom0 only: no uuid, sizes in MiB", () => {
    assert.deepEqual(parseXlListLong(xlFixture("xl-list-l-dom0-only.json", ".")), [
      {
        domid: 0,
        name: "Domain-0",
        type: "pv",
        maxMemoryMiB: 512,
        targetMemoryMiB: 511,
        disks: [],
        nics: [],
      },
    ]);
  });

  test("guests the driver created: its disk, vif, boot and preserve actions", () => {
    const domains = parseXlListLong(xlFixture("xl-list-l.json"));
    assert.deepEqual(
      domains.map((d) => d.name),
      ["Domain-0", "ep-run", "ep-poweroff", "ep-reboot", "ep-crash"],
    );
    const run = domains.find((d) => d.name === "ep-run");
    assert.deepEqual(run, {
      domid: 1,
      name: "ep-run",
      uuid: "6f1c2a40-5b7e-4c1d-9a2e-000000000001",
      type: "pv",
      maxMemoryMiB: 128,
      targetMemoryMiB: 128,
      maxVcpus: 1,
      kernel: "/ep/vmlinux.gz",
      ramdisk: "/ep/guest.cpio",
      cmdline: "console=hvc0 quiet ep_action=run",
      disks: [{ vdev: "xvda", target: "/dev/loop0", readOnly: false }],
      nics: [{ mac: "00:16:3e:e0:00:01", bridge: "xenbr0" }],
      onPoweroff: "preserve",
      onReboot: "preserve",
      onCrash: "preserve",
      onWatchdog: "preserve",
    });
  });

  test("an empty array is no domain", () => {
    assert.deepEqual(parseXlListLong("[\n]\n"), []);
  });

  test("truncated and hostile JSON is refused, naming the field", () => {
    const full = xlFixture("xl-list-l.json");
    refused(full.slice(0, full.length / 2), /not JSON/);
    refused("", /not JSON/);
    refused('{"domid": 0}', /not a JSON array/);
    refused('[{"domid": -1, "config": {}}]', /\[0\]\.domid is -1/);
    refused('[{"domid": 1, "config": {"c_info": {}}}]', /has no name/);
    refused('[{"domid": 1, "config": {"c_info": {"name": 7}}}]', /c_info\.name is not a string/);
    refused(
      '[{"domid": 1, "config": {"c_info": {"name": "a"}, "disks": {}}}]',
      /disks is not an array/,
    );
    refused(
      '[{"domid": 1, "config": {"c_info": {"name": "a"}, "b_info": {"max_memkb": "lots"}}}]',
      /max_memkb is not a count/,
    );
    refused(
      '[{"domid": 1, "config": {"c_info": {"name": "a"}, "disks": [{}]}}]',
      /disks\[0\] has no vdev/,
    );
    refused("[" + "1,".repeat(0x8000) + "1]", /more than \d+ domains/);
  });
});
