/**
 * The xen driver's command sequences and error mapping, with a fake runner answering from real
 * xl output (test/fixtures/xl/). xen-driver.integ.test.ts runs the same driver on Xen.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { EtherplaneError, isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import type { GuestSpec } from "../driver.js";
import { buildGuestXlConfig } from "./guest-config.js";
import { RUN_SPEC } from "./testing/guest-spec.js";
import { failed, FakeXlRunner, listOne, ok, xlFixture } from "./testing/fake-xl-runner.js";
import { XEN_TIMEOUTS_MS_DEFAULT } from "./xen-driver-options.js";
import { XenDriver } from "./xen-driver.js";

const listV = xlFixture("xl-list-v.txt");
const listVEnd = xlFixture("xl-list-v-end.txt");

const spec: GuestSpec = RUN_SPEC;

async function rejects(promise: Promise<unknown>, code: ErrorCode, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

describe("xen driver over a fake xl", () => {
  let stateDir: string;
  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "ep-xen-driver-"));
  });
  after(async () => rm(stateDir, { recursive: true, force: true }));

  /** The host has every bridge and disk unless `missing` names it. */
  const setup = (configure: (fake: FakeXlRunner) => void, missing: string[] = []) => {
    const fake = new FakeXlRunner();
    configure(fake);
    const pathExists = (path: string) => Promise.resolve(!missing.includes(path));
    const xen = new XenDriver({ stateDir, run: fake.run, xlPath: "/usr/sbin/xl", pathExists });
    return { fake, xen };
  };
  const files = async () => (await readdir(stateDir)).sort();

  test("hostInfo from xl info", async () => {
    const { fake, xen } = setup((f) => f.on(["info"], ok(xlFixture("xl-info.txt"))));
    assert.deepEqual(await xen.hostInfo(), {
      kind: "xen",
      version: "4.17.7",
      detail: "pv hvm hap gnttab-v1 gnttab-v2; scheduler credit2",
      cpus: 2,
      totalMemoryMiB: 2047,
      freeMemoryMiB: Number(/^free_memory\s*: (\d+)/m.exec(xlFixture("xl-info.txt"))?.[1]),
    });
    assert.deepEqual(fake.calls, [{ argv: ["/usr/sbin/xl", "info"], timeoutMs: 30_000 }]);
  });

  test("list: every domain from xl list -v, Domain-0 included, exits from reason codes", async () => {
    const { fake, xen } = setup((f) => f.on(["list", "-v"], ok(listV)));
    const guests = await xen.list();
    assert.deepEqual(fake.commands(), ["list -v"]);
    assert.deepEqual(
      guests.map((g) => [g.name, g.domid, g.exit, g.state.paused]),
      [
        ["Domain-0", 0, null, false],
        ["ep-run", 1, null, true],
        ["ep-poweroff", 2, "poweroff", false],
        ["ep-reboot", 3, "reboot", false],
        ["ep-crash", 4, "crash", false],
      ],
    );
    assert.deepEqual(guests[1], {
      name: "ep-run",
      domid: 1,
      uuid: "6f1c2a40-5b7e-4c1d-9a2e-000000000001",
      memoryMiB: 128,
      vcpus: 1,
      state: {
        running: false,
        blocked: false,
        paused: true,
        shutdown: false,
        crashed: false,
        dying: false,
      },
      cpuTimeS: 23.8,
      exit: null,
    });
  });

  test("create: absent, xl create from the written file, then found", async () => {
    let created = false;
    const { fake, xen } = setup((f) =>
      f
        .on(["list", "-v", "ep-run"], () => listOne(created ? listV : listVEnd, "ep-run"))
        .on(["create"], () => {
          created = true;
          return ok("", "");
        }),
    );
    const guest = await xen.create(spec);
    const cfg = join(stateDir, "ep-run.cfg");
    assert.deepEqual(fake.commands(), ["list -v ep-run", `create -q ${cfg}.new`, "list -v ep-run"]);
    assert.equal(fake.calls[1]?.timeoutMs, XEN_TIMEOUTS_MS_DEFAULT.create);
    assert.equal(guest.name, "ep-run");
    assert.equal(guest.domid, 1);
    assert.equal(await readFile(cfg, "utf8"), buildGuestXlConfig(spec));
    assert.deepEqual(await files(), ["ep-run.cfg"], "the .new file became the config");
  });

  test("create of a name in use is CONFLICT before xl create runs", async () => {
    const { fake, xen } = setup((f) => f.on(["list", "-v", "ep-run"], listOne(listV, "ep-run")));
    await rejects(xen.create(spec), "CONFLICT", /a guest named ep-run already exists/);
    assert.deepEqual(fake.commands(), ["list -v ep-run"]);
  });

  test("a racing creator: xl's CONFLICT, and the other guest is left alone", async () => {
    await writeFile(join(stateDir, "ep-run.cfg"), "# the other creator's file\n");
    const { fake, xen } = setup((f) =>
      f
        .on(["list", "-v", "ep-run"], listOne(listVEnd, "ep-run"))
        .on(["create"], failed(3, xlFixture("xl-create-name-taken.stderr.txt"))),
    );
    await rejects(xen.create(spec), "CONFLICT", /already exists.*libxl_domain\.c/);
    assert.deepEqual(
      fake.commands().map((c) => c.split(" ")[0]),
      ["list", "create"],
    );
    assert.equal(
      await readFile(join(stateDir, "ep-run.cfg"), "utf8"),
      "# the other creator's file\n",
      "its config is untouched",
    );
    await rm(join(stateDir, "ep-run.cfg"));
  });

  test("create failures are UNAVAILABLE with xl's reason and leave no file", async () => {
    const cases: Array<[string, RegExp]> = [
      ["xl-create-no-bridge.stderr.txt", /bridge nosuchbr0 does not exist/],
      ["xl-create-no-disk.stderr.txt", /\/dev\/etherd\/e9\.9 does not exist/],
      ["xl-create-no-memory.stderr.txt", /not enough free memory/],
    ];
    for (const [fixture, pattern] of cases) {
      const { fake, xen } = setup((f) =>
        f
          .on(["list", "-v", "ep-run"], listOne(listVEnd, "ep-run"))
          .on(["create"], failed(3, xlFixture(fixture))),
      );
      await rejects(xen.create(spec), "UNAVAILABLE", pattern);
      // xl destroyed its half-built domain: the driver looks, finds nothing, destroys nothing.
      assert.deepEqual(
        fake.commands().map((c) => c.split(" ")[0]),
        ["list", "create", "list"],
      );
      assert.deepEqual(await files(), []);
    }
  });

  test("a missing bridge or disk is UNAVAILABLE before xl runs, naming each", async () => {
    const { fake, xen } = setup(() => undefined, ["/sys/class/net/xenbr0", "/dev/etherd/e1.0"]);
    await rejects(
      xen.create(spec),
      "UNAVAILABLE",
      /^guest ep-run: the bridge xenbr0 does not exist on this host; disk xvda: \/dev\/etherd\/e1\.0 does not exist on this host$/,
    );
    assert.deepEqual(fake.calls, []);
    assert.deepEqual(await files(), []);
  });

  test("a create that times out is cleaned up: the half-made domain is destroyed", async () => {
    let created = false;
    const { fake, xen } = setup((f) =>
      f
        .on(["list", "-v", "ep-run"], () => listOne(created ? listV : listVEnd, "ep-run"))
        .on(["create"], () => {
          created = true;
          throw new EtherplaneError("TIMEOUT", "xl create did not finish in 300000 ms");
        })
        .on(["destroy", "ep-run"], ok()),
    );
    await rejects(xen.create(spec), "TIMEOUT", /did not finish/);
    assert.deepEqual(
      fake.commands().map((c) => c.split(" ")[0]),
      ["list", "create", "list", "destroy"],
    );
    assert.deepEqual(await files(), []);
  });

  test("a bad spec fails before any command", async () => {
    const { fake, xen } = setup(() => undefined);
    await rejects(xen.create({ ...spec, name: "12" }), "INVALID_ARGUMENT", /guest name "12"/);
    await rejects(
      xen.create({
        ...spec,
        disks: [{ vdev: "xvda", source: { kind: "nbd", socketPath: "/run/s" }, readOnly: false }],
      }),
      "UNAVAILABLE",
      /NBD/,
    );
    for (const call of [
      () => xen.destroy("-f"),
      () => xen.shutdown("a b"),
      () => xen.pause("0"),
      () => xen.migrate("ep-run", "-oProxyCommand=x"),
      () => xen.destroy("../../../../etc/x"),
      () => xen.reboot("Domain-0"),
      () => xen.create({ ...spec, name: "../../../../etc/x" }),
      () => xen.create({ ...spec, name: "web\n1" }),
      () => xen.create({ ...spec, name: "a\u202eb" }),
      () => xen.create({ ...spec, xlConfig: 'device_model_override = "/bin/sh"\n' }),
    ]) {
      await assert.rejects(
        call(),
        (e) => isEtherplaneError(e, "INVALID_ARGUMENT") || isEtherplaneError(e, "FORBIDDEN"),
      );
    }
    assert.deepEqual(fake.calls, []);
    assert.deepEqual(await files(), [], "no file written outside or inside the state directory");
  });

  test("shutdown asks a running guest (-F for HVM without PV drivers), not a stopped one", async () => {
    const { fake, xen } = setup((f) =>
      f
        .on(["list", "-v"], (argv) => listOne(listV, argv[3] ?? ""))
        .on(["shutdown"], ok("", xlFixture("xl-shutdown.stderr.txt"))),
    );
    await xen.shutdown("ep-run");
    await xen.shutdown("ep-poweroff");
    assert.deepEqual(fake.commands(), [
      "list -v ep-run",
      "shutdown -F ep-run",
      "list -v ep-poweroff",
    ]);
    assert.equal(fake.calls[1]?.timeoutMs, 90_000, "longer than libxl's 60 s wait for an answer");
    await rejects(xen.shutdown("nosuch"), "NOT_FOUND", /no guest nosuch/);
  });

  test("a guest that does not answer the shutdown request: REFUSED", async () => {
    const { xen } = setup((f) =>
      f
        .on(["list", "-v"], (argv) => listOne(listV, argv[3] ?? ""))
        .on(
          ["shutdown"],
          failed(
            1,
            "Shutting down domain 1\nlibxl: error: libxl_domain.c:854:pvcontrol_cb: guest didn't acknowledge control request: -9\nshutdown failed (rc=-9)\n",
          ),
        ),
    );
    await rejects(xen.shutdown("ep-run"), "REFUSED", /ep-run did not answer/);
  });

  test("reboot of a shut-down guest is CONFLICT; of a running one, xl reboot -F", async () => {
    const { fake, xen } = setup((f) =>
      f.on(["list", "-v"], (argv) => listOne(listV, argv[3] ?? "")).on(["reboot"], ok()),
    );
    await rejects(xen.reboot("ep-crash"), "CONFLICT", /ep-crash is shut down \(crash\)/);
    await xen.reboot("ep-run");
    assert.deepEqual(fake.commands(), ["list -v ep-crash", "list -v ep-run", "reboot -F ep-run"]);
  });

  test("destroy removes the config; an unknown guest is NOT_FOUND", async () => {
    await writeFile(join(stateDir, "ep-crash.cfg"), "name = 'ep-crash'\n");
    const { fake, xen } = setup((f) =>
      f
        .on(["destroy", "ep-crash"], ok())
        .on(["destroy"], failed(1, xlFixture("xl-destroy-unknown.stderr.txt"))),
    );
    await xen.destroy("ep-crash");
    assert.deepEqual(await files(), []);
    await rejects(xen.destroy("nosuch"), "NOT_FOUND", /no guest nosuch.*invalid domain identifier/);
    assert.deepEqual(fake.commands(), ["destroy ep-crash", "destroy nosuch"]);
  });

  test("pause and unpause only when needed (Xen counts toolstack pauses)", async () => {
    const { fake, xen } = setup((f) =>
      f
        .on(["list", "-v"], (argv) => listOne(listV, argv[3] ?? ""))
        .on(["pause"], ok())
        .on(["unpause"], ok()),
    );
    await xen.pause("ep-run"); // already paused
    await xen.pause("ep-crash");
    await xen.unpause("ep-run");
    await xen.unpause("ep-crash"); // not paused
    assert.deepEqual(fake.commands(), [
      "list -v ep-run",
      "list -v ep-crash",
      "pause ep-crash",
      "list -v ep-run",
      "unpause ep-run",
      "list -v ep-crash",
    ]);
  });

  test("an act given a uuid checks it in xl list -v, then names the domid; another uuid or Domain-0 is left alone", async () => {
    const { fake, xen } = setup((f) =>
      f
        .on(["list", "-v"], (argv) => listOne(listV, argv[3] ?? ""))
        .on(["unpause"], ok())
        .on(["destroy"], ok())
        .on(["shutdown"], ok())
        .on(["reboot"], ok()),
    );
    const other = "6f1c2a40-5b7e-4c1d-9a2e-0000000000ff";
    await rejects(
      xen.destroy("ep-run", other),
      "CONFLICT",
      /ep-run \(id 1\) has uuid 6f1c2a40-.*-000000000001, not .*0ff: it is not the guest etherplane started/,
    );
    await rejects(xen.unpause("ep-run", other), "CONFLICT", /left alone \(no unpause\)/);
    await rejects(xen.shutdown("ep-run", other), "CONFLICT", /not the guest/);
    await rejects(xen.reboot("ep-run", other), "CONFLICT", /not the guest/);
    await rejects(xen.console("ep-run", other), "CONFLICT", /not the guest/);
    // Domain-0's name is refused before any command (the shared name check).
    await rejects(
      xen.destroy("Domain-0", "00000000-0000-0000-0000-000000000000"),
      "INVALID_ARGUMENT",
      /dom0's name/,
    );
    assert.deepEqual(
      fake.commands(),
      ["list -v ep-run", "list -v ep-run", "list -v ep-run", "list -v ep-run", "list -v ep-run"],
      "nothing but lookups",
    );
    fake.calls.length = 0;
    await xen.unpause("ep-run", "6F1C2A40-5B7E-4C1D-9A2E-000000000001");
    await xen.destroy("ep-crash", "6f1c2a40-5b7e-4c1d-9a2e-000000000004");
    assert.deepEqual(fake.commands(), [
      "list -v ep-run",
      "unpause 1",
      "list -v ep-crash",
      "destroy 4",
    ]);
  });

  test("xl pause exits 0 even when libxl fails: the error is read from stderr", async () => {
    const { xen } = setup((f) =>
      f
        .on(["list", "-v"], (argv) => listOne(listV, argv[3] ?? ""))
        .on(
          ["pause"],
          ok("", "libxl: error: libxl_domain.c:600:libxl_domain_pause: Permission denied\n"),
        ),
    );
    await rejects(xen.pause("ep-crash"), "IO_ERROR", /Permission denied/);
  });

  test("migrate: xl migrate with -s, and the config goes", async () => {
    await writeFile(join(stateDir, "ep-run.cfg"), "name = 'ep-run'\n");
    const { fake, xen } = setup((f) => f.on(["migrate"], ok()));
    await xen.migrate("ep-run", "xl migrate-receive", { sshCommand: "" });
    await xen.migrate("ep-run", "host2");
    assert.deepEqual(
      fake.calls.map((c) => c.argv.slice(1)),
      [
        ["migrate", "-s", "", "ep-run", "xl migrate-receive"],
        ["migrate", "ep-run", "host2"],
      ],
    );
    assert.equal(fake.calls[0]?.timeoutMs, XEN_TIMEOUTS_MS_DEFAULT.migrate);
    assert.deepEqual(await files(), []);
    const ssh = setup((f) =>
      f.on(
        ["migrate"],
        failed(
          1,
          "sh: exec: line 0: ssh: not found\nlibxl: error: libxl_utils.c:505:libxl_read_exactly: file/stream truncated\n",
        ),
      ),
    );
    await rejects(
      ssh.xen.migrate("ep-run", "host2"),
      "UNAVAILABLE",
      /migration transport failed: ssh: not found/,
    );
  });

  test("operations on one name run one at a time, others do not wait", async () => {
    const events: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { xen } = setup((f) =>
      f.on(["destroy"], async (argv) => {
        events.push(`start ${argv[2]}`);
        if (argv[2] === "a" && !events.includes("end a")) await gate;
        events.push(`end ${argv[2]}`);
        return ok();
      }),
    );
    const first = xen.destroy("a");
    const second = xen.destroy("a");
    const other = xen.destroy("b");
    await other;
    assert.deepEqual(events, ["start a", "start b", "end b"]);
    release();
    await Promise.all([first, second]);
    assert.deepEqual(events, ["start a", "start b", "end b", "end a", "start a", "end a"]);
  });

  test("xl output the parser does not know is PROTOCOL, not a wrong answer", async () => {
    const { xen } = setup((f) => f.on(["list", "-v"], ok("Name ID\nsomething else\n")));
    await rejects(xen.list(), "PROTOCOL", /xl list/);
  });
});
