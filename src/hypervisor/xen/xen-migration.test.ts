/**
 * Xen live migration end to end without Xen: two XenDrivers (source and destination), each with
 * the fake xl runner for its `xl list`/`destroy` calls, and a FAKE xl (testing/fake-xl-migrate.ts)
 * for `xl migrate`/`migrate-receive` that speaks xl's handshake over the real transport: xl's
 * `sh -c "exec COMMAND HOST xl migrate-receive"`, the real xl-migrate-transport.js helper, the
 * driver's one-use Unix socket, and a real socket pair standing for the controller's piped
 * streams. Not on real Xen: live migration needs log-dirty mode, which Debian's Xen under TCG
 * lacks (no shadow paging); the README's "Live migration on Xen" says so.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import type { GuestSpec } from "../driver.js";
import type { MigrationProgress } from "../migration.js";
import { buildGuestXlConfig } from "./guest-config.js";
import { RUN_SPEC } from "./testing/guest-spec.js";
import { FakeXlRunner, listOne, ok, xlFixture } from "./testing/fake-xl-runner.js";
import { XenDriver } from "./xen-driver.js";

const FAKE_XL = fileURLToPath(new URL("./testing/fake-xl-migrate.js", import.meta.url));
const HELPER = fileURLToPath(new URL("./xl-migrate-transport.js", import.meta.url));
const XL = "/usr/sbin/xl";

const spec: GuestSpec = RUN_SPEC;

/** The captured `xl list -v` with ep-run as DOMID in STATE (and other names as given). */
function listing(rows: Array<{ name: string; domid: number; state: string }>): string {
  const [header, , run] = xlFixture("xl-list-v.txt").split("\n");
  if (header === undefined || run === undefined) throw new Error("the fixture changed");
  const lines = rows.map(({ name, domid, state }) =>
    run
      .replace(/^ep-run {6}/, name.padEnd(12))
      .replace(/ {2}1 {3}128/, `${String(domid).padStart(3)}   128`)
      .replace("--p---", state),
  );
  return [header, ...lines].join("\n") + "\n";
}

async function rejects(promise: Promise<unknown>, code: ErrorCode, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

/** Two connected Unix sockets: what the broker's piped agent streams are to each side. */
async function streamPair(dir: string): Promise<[Socket, Socket]> {
  const path = join(dir, `pair-${Math.random().toString(16).slice(2)}.sock`);
  const accepted = new Promise<Socket>((resolve) => {
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      server.close();
      resolve(socket);
    });
    server.listen(path);
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  for (;;) {
    try {
      await access(path);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  const a = connect({ path, allowHalfOpen: true });
  return [a, await accepted];
}

async function until(what: string, done: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("xen live migration over a fake xl and the real transport", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ep-xenmig-"));
  });
  /** Every stream pair made: closed at the end, or their sockets keep the test process alive. */
  const pairs: Socket[] = [];
  after(async () => {
    for (const socket of pairs) socket.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  let n = 0;
  const setup = async (options: { scenario?: string; sourceState?: string } = {}) => {
    n += 1;
    const base = join(dir, String(n));
    const received = join(base, "received.cfg");
    const spawned: string[][] = [];
    const spawnMigration = (argv: readonly string[]) => {
      spawned.push([...argv]);
      return spawn(process.execPath, [FAKE_XL, ...argv.slice(1)], {
        stdio: "pipe",
        env: {
          ...process.env,
          FAKE_XL_SCENARIO: options.scenario ?? "ok",
          FAKE_XL_RECEIVED: received,
          FAKE_XL_MEMORY_BYTES: String(256 * 1024),
        },
      });
    };
    const pathExists = (path: string) =>
      access(path).then(
        () => true,
        () => !path.startsWith(base), // the host's bridges and disks exist; our files as they are
      );
    const sourceXl = new FakeXlRunner().on(
      ["list", "-v", "ep-run"],
      ok(listing([{ name: "ep-run", domid: 7, state: options.sourceState ?? "-b----" }])),
    );
    let arrived = false;
    let incomingLeft = false;
    const destXl = new FakeXlRunner()
      .on(["list", "-v", "ep-run"], () =>
        arrived
          ? ok(listing([{ name: "ep-run", domid: 9, state: "-b----" }]))
          : listOne(xlFixture("xl-list-v.txt"), "nothing-here"),
      )
      .on(["list", "-v", "ep-run--incoming"], () =>
        incomingLeft
          ? ok(listing([{ name: "ep-run--incoming", domid: 9, state: "--p---" }]))
          : listOne(xlFixture("xl-list-v.txt"), "nothing-here"),
      )
      .on(["destroy"], ok());
    const sourceDir = join(base, "source");
    const source = new XenDriver({
      stateDir: sourceDir,
      run: sourceXl.run,
      xlPath: XL,
      pathExists,
      spawnMigration,
    });
    const dest = new XenDriver({
      stateDir: join(base, "dest"),
      run: destXl.run,
      xlPath: XL,
      pathExists,
      spawnMigration,
    });
    // What `create` left on the source: the placed spec's config.
    const { mkdir } = await import("node:fs/promises");
    await mkdir(sourceDir, { recursive: true });
    const sourceCfg = join(sourceDir, "ep-run.cfg");
    await writeFile(sourceCfg, buildGuestXlConfig(spec));
    const [a, b] = await streamPair(base);
    pairs.push(a, b);
    return {
      base,
      received,
      spawned,
      source,
      dest,
      sourceXl,
      destXl,
      sourceCfg,
      a,
      b,
      arrive: () => (arrived = true),
      leaveIncoming: () => (incomingLeft = true),
    };
  };

  test("moves the guest: xl migrate -C placed.cfg -s helper DOMID SOCKET, migrate-receive there", async () => {
    const s = await setup();
    const incoming = await s.dest.migration.prepareIncoming(spec);
    assert.deepEqual(s.destXl.commands(), ["list -v ep-run", "list -v ep-run--incoming"]);
    const destCfg = join(s.base, "dest", "ep-run.cfg");
    assert.equal(await readFile(destCfg, "utf8"), buildGuestXlConfig(spec));
    const progress: MigrationProgress[] = [];
    const receiving = incoming.receive(s.b).then((guest) => guest);
    // The destination's xl lists the guest once it runs there.
    receiving.catch(() => undefined);
    s.arrive();
    const report = await s.source.migration.send(spec.name, spec.uuid, s.a, (p) =>
      progress.push(p),
    );
    const guest = await receiving;
    assert.equal(guest.domid, 9);
    assert.equal(guest.uuid, spec.uuid);
    // The destination got the placed config (the -C file), byte for byte.
    assert.equal(await readFile(s.received, "utf8"), buildGuestXlConfig(spec));
    // Every byte xl wrote went through the socket: the config, the "memory", the go.
    const configBytes = Buffer.byteLength(buildGuestXlConfig(spec));
    assert.ok(report.transferredBytes >= 256 * 1024 + configBytes, String(report.transferredBytes));
    assert.equal(report.downtimeMs, null);
    // Progress (once a second, so maybe none on a fast run): relayed bytes against the memory.
    for (const p of progress) {
      assert.equal(p.totalBytes, 128 * 2 ** 20);
      assert.ok(p.transferredBytes <= report.transferredBytes);
      assert.equal(p.remainingBytes, p.totalBytes - p.transferredBytes);
      assert.equal(p.expectedDowntimeMs, null);
    }
    assert.ok(report.totalTimeMs >= 0);
    const send = s.spawned.find((argv) => argv[1] === "migrate");
    const receive = s.spawned.find((argv) => argv[1] === "migrate-receive");
    assert.deepEqual(receive, [XL, "migrate-receive"]);
    assert.deepEqual(send?.slice(0, 6), [
      XL,
      "migrate",
      "-C",
      s.sourceCfg,
      "-s",
      `'${process.execPath}' '${HELPER}'`,
    ]);
    assert.equal(send?.[6], "7", "the domid read with its uuid checked");
    assert.match(send?.[7] ?? "", /\/source\/migrate\/out-7-[0-9a-f]{12}\.sock$/);
    assert.equal(send?.length, 8);
    // The one-use socket is gone, and so is the source's config; the destination keeps its own.
    assert.deepEqual(await readdir(join(s.base, "source", "migrate")), []);
    await assert.rejects(access(s.sourceCfg));
    await access(destCfg);
    assert.deepEqual(s.sourceXl.commands(), ["list -v ep-run"]);
  });

  test("the destination cannot start it: xl gives it back, and both sides say so", async () => {
    const s = await setup({ scenario: "target-fails" });
    const incoming = await s.dest.migration.prepareIncoming(spec);
    const receiving = incoming.receive(s.b);
    receiving.catch(() => undefined);
    await rejects(
      s.source.migration.send(spec.name, spec.uuid, s.a, () => undefined),
      "UNAVAILABLE",
      /destination could not start the guest.*ep-run runs on here/,
    );
    await rejects(receiving, "UNAVAILABLE", /guest ep-run did not arrive/);
    await access(s.sourceCfg); // still the source's guest
    await incoming.discard();
    await assert.rejects(access(join(s.base, "dest", "ep-run.cfg")));
  });

  test("the stream cut mid-transfer (an abort): the source runs on, the destination's copy goes", async () => {
    const s = await setup({ scenario: "hang" });
    const incoming = await s.dest.migration.prepareIncoming(spec);
    const receiving = incoming.receive(s.b);
    receiving.catch(() => undefined);
    const sending = s.source.migration.send(spec.name, spec.uuid, s.a, () => undefined);
    sending.catch(() => undefined);
    // The state arrived on the destination (its xl holds it as ep-run--incoming), not acknowledged.
    await until("the destination to receive the state", () =>
      access(s.received).then(
        () => true,
        () => false,
      ),
    );
    s.leaveIncoming();
    s.a.destroy();
    await rejects(sending, "UNAVAILABLE", /ep-run runs on here/);
    await rejects(receiving, "UNAVAILABLE", /did not arrive/);
    await incoming.discard();
    assert.ok(s.destXl.commands().includes("destroy 9"), s.destXl.commands().join(", "));
    await assert.rejects(access(join(s.base, "dest", "ep-run.cfg")));
    await access(s.sourceCfg);
  });

  test("past the transfer limit: the stream is cut, xl resumes the guest, TIMEOUT", async () => {
    const s = await setup({ scenario: "hang" });
    const incoming = await s.dest.migration.prepareIncoming(spec);
    const receiving = incoming.receive(s.b);
    receiving.catch(() => undefined);
    const limits = { transferMsMax: 1500, downtimeMsMax: 500, bandwidthBytesPerSMax: 2 ** 30 };
    await rejects(
      s.source.migration.send(spec.name, spec.uuid, s.a, () => undefined, limits),
      "TIMEOUT",
      /did not finish within 1.5 s.*ep-run runs on here/,
    );
    await incoming.discard();
    await rejects(receiving, "UNAVAILABLE", /did not arrive/);
  });

  test("refused before anything moves: not running, another uuid, a name taken, no bridge", async () => {
    const paused = await setup({ sourceState: "--p---" });
    await rejects(
      paused.source.migration.send(spec.name, spec.uuid, paused.a, () => undefined),
      "CONFLICT",
      /not running \(--p---\)/,
    );
    await rejects(
      paused.source.migration.send(
        spec.name,
        "6f1c2a40-5b7e-4c1d-9a2e-0000000000ff",
        paused.a,
        () => undefined,
      ),
      "CONFLICT",
      /ep-run/,
    );
    assert.deepEqual(paused.spawned, []);

    const taken = await setup();
    taken.arrive(); // a guest ep-run runs on the destination already
    await rejects(taken.dest.migration.prepareIncoming(spec), "CONFLICT", /already exists/);
    await assert.rejects(access(join(taken.base, "dest", "ep-run.cfg")));

    const noBridge = new XenDriver({
      stateDir: join(dir, "nobridge"),
      run: new FakeXlRunner().run,
      xlPath: XL,
      pathExists: (path) => Promise.resolve(!path.endsWith("xenbr0")),
    });
    await rejects(
      noBridge.migration.prepareIncoming(spec),
      "UNAVAILABLE",
      /bridge xenbr0 does not exist/,
    );
  });
});
