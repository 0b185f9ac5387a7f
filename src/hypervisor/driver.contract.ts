/**
 * The contract every HypervisorDriver keeps (driver.ts), as node:test cases that each driver's
 * test file runs against its own setup:
 *
 *   runHypervisorDriverContract("fake", async () => ({ driver, reopen, bridge, boot, ... }));
 *
 * Guests are "console guests" (fake/console-guest.ts): they print a ready line on their serial
 * console and run the commands typed there, so the cases can make a guest power off, reboot or
 * crash by itself. Booting costs seconds on real hypervisors, so the cases share guests: they run
 * in order, and guest A (created in the second case) is used until the shutdown case destroys
 * it. Three guests boot in all: A (shutdown), B (guest reboot, then a second driver instance
 * takes it over) and C (crash).
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../foundation/errors.js";
import type {
  GuestBoot,
  GuestConsoleSession,
  GuestInfo,
  GuestSpec,
  HypervisorDriver,
} from "./driver.js";
import { consoleGuestCommands, consoleGuestReadyPattern } from "./fake/console-guest.js";

export interface ContractSetup {
  driver: HypervisorDriver;
  /** A new driver instance over the same host state, as after an agent restart. */
  reopen(): Promise<HypervisorDriver>;
  /** A bridge that exists on the host, for the guests' vifs. */
  bridge: string;
  /** How to boot a console guest named `name` (e.g. a kernel, initrd and `console=...`). */
  boot(name: string): GuestBoot;
  memoryMiB: number;
  /**
   * What guests may leave on the host (taps, processes, files, hypervisor domains) as strings:
   * the contract compares it before a guest's create and after its destroy.
   */
  residue(): Promise<string[]>;
  /** From `create` to the console guest's ready line. */
  bootTimeoutMs: number;
  /** From a stop request (or a guest command) to the exit showing in `list()`. */
  stopTimeoutMs: number;
  teardown(): Promise<void>;
}

const pollMs = 100;

function randomMac(): string {
  return [
    "00",
    "16",
    "3e",
    ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, "0")),
  ].join(":");
}

async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, what: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), `${what}: expected ${code}, got ${String(error)}`);
    return true;
  });
}

/** Reads a console session into text (history first) and waits for patterns in it. */
class ConsoleWatch {
  text: string;
  private readonly waiters = new Set<() => void>();

  constructor(readonly session: GuestConsoleSession) {
    this.text = session.history.toString("latin1");
    session.stream.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("latin1");
      for (const wake of this.waiters) wake();
    });
  }

  /** Waits until `pattern` matches the text after offset `from`. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const match = pattern.exec(this.text.slice(from));
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `console: no ${String(pattern)} in ${timeoutMs} ms; tail:\n${this.text.slice(-2000)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
      });
    }
  }

  send(line: string): void {
    this.session.stream.write(line + "\n");
  }
}

/**
 * Running, blocked, or neither: Xen shows `------` for a guest that is runnable but waiting for
 * a CPU (seen right after `xl create` under TCG).
 */
function isLive(info: GuestInfo): boolean {
  const s = info.state;
  return !s.paused && !s.shutdown && !s.crashed && !s.dying && info.exit === null;
}

export function runHypervisorDriverContract(
  name: string,
  setup: () => Promise<ContractSetup>,
): void {
  void describe(`HypervisorDriver contract: ${name}`, () => {
    let env: ContractSetup;
    let setUp = false;
    const created = new Set<string>();
    const tag = randomBytes(3).toString("hex");
    const guestName = (role: string) => `ep-ct-${tag}-${role}`;

    const spec = (role: string, overrides: Partial<GuestSpec> = {}): GuestSpec => ({
      name: guestName(role),
      uuid: randomUUID(),
      memoryMiB: env.memoryMiB,
      vcpus: 1,
      boot: env.boot(guestName(role)),
      disks: [],
      vifs: [{ mac: randomMac(), bridge: env.bridge }],
      ...overrides,
    });

    const find = async (driver: HypervisorDriver, guest: string) =>
      (await driver.list()).find((info) => info.name === guest);

    const create = async (guestSpec: GuestSpec) => {
      created.add(guestSpec.name);
      return env.driver.create(guestSpec);
    };

    /** Attaches, waits for the ready line; the caller closes the session. */
    const readyConsole = async (guest: string) => {
      const watch = new ConsoleWatch(await env.driver.console(guest));
      await watch.waitFor(consoleGuestReadyPattern, env.bootTimeoutMs);
      return watch;
    };

    const waitExit = (driver: HypervisorDriver, guest: string, exit: GuestInfo["exit"]) =>
      waitUntil(`${guest} to stop with exit ${exit}`, env.stopTimeoutMs, async () => {
        const info = await find(driver, guest);
        return info?.exit === exit ? info : undefined;
      });

    /** Destroys `guest` and checks that it left nothing on the host. */
    const destroyClean = async (driver: HypervisorDriver, guest: string, residue: string[]) => {
      await driver.destroy(guest);
      created.delete(guest);
      assert.equal(await find(driver, guest), undefined, `${guest} is no longer listed`);
      assert.deepEqual(await env.residue(), residue, `${guest} left nothing behind`);
    };

    before(async () => {
      env = await setup();
      setUp = true;
    });

    after(async () => {
      if (!setUp) return; // setup failed: nothing was made
      for (const guest of created) await env.driver.destroy(guest).catch(() => undefined);
      await env.teardown();
    });

    // Shared between the cases that use guest A.
    let specA: GuestSpec;
    let infoA: GuestInfo;
    let residueBeforeA: string[];

    it("hostInfo describes this host", async () => {
      const info = await env.driver.hostInfo();
      assert.equal(info.kind, env.driver.kind);
      assert.ok(info.version.length > 0, "a version");
      assert.ok(Number.isInteger(info.cpus) && info.cpus >= 1, `cpus ${info.cpus}`);
      assert.ok(info.totalMemoryMiB > 0, `total ${info.totalMemoryMiB}`);
      assert.ok(
        info.freeMemoryMiB >= env.memoryMiB && info.freeMemoryMiB <= info.totalMemoryMiB,
        `free ${info.freeMemoryMiB} of ${info.totalMemoryMiB}`,
      );
    });

    it("create starts a guest that is listed running with the spec's memory, vcpus and uuid", async () => {
      const freeBefore = (await env.driver.hostInfo()).freeMemoryMiB;
      residueBeforeA = await env.residue();
      specA = spec("a");
      infoA = await create(specA);
      assert.equal(infoA.name, specA.name);
      const listed = await find(env.driver, specA.name);
      assert.ok(listed, "listed");
      for (const info of [infoA, listed]) {
        assert.equal(info.uuid, specA.uuid);
        assert.equal(info.memoryMiB, specA.memoryMiB);
        assert.equal(info.vcpus, specA.vcpus);
        assert.equal(info.exit, null);
        assert.ok(info.domid > 0, `domid ${info.domid}`);
        assert.ok(isLive(info), `running, blocked or runnable: ${JSON.stringify(info.state)}`);
      }
      assert.equal(listed.domid, infoA.domid);
      assert.notDeepEqual(await env.residue(), residueBeforeA, "the guest shows on the host");
      const freeAfter = (await env.driver.hostInfo()).freeMemoryMiB;
      assert.ok(
        freeAfter <= freeBefore - specA.memoryMiB * 0.9,
        `free memory ${freeBefore} -> ${freeAfter} MiB for a ${specA.memoryMiB} MiB guest`,
      );
    });

    it("the console shows the boot and runs commands; several sessions at once", async () => {
      const first = await readyConsole(specA.name);
      const second = new ConsoleWatch(await env.driver.console(specA.name));
      try {
        // The history holds the boot. Not necessarily the ready line byte for byte: under load an
        // emulated UART drops characters its reader does not take in time (seen with QEMU's
        // 8250 in CI: "PM:  ibernation"), and the history is what the backend got.
        assert.match(
          second.text,
          /Linux version|EP-GUEST READY/,
          `the second session's history holds the boot: ${second.text.slice(-300)}`,
        );
        const token = `ep-${randomBytes(4).toString("hex")}-marker`;
        const fromFirst = first.text.length;
        second.send(`echo ${token}`);
        // The output line alone (the terminal's echo of the command has "echo " before it).
        const output = new RegExp(`^${token}\\r?$`, "m");
        await second.waitFor(output, 30_000, second.session.history.length);
        await first.waitFor(output, 10_000, fromFirst);
      } finally {
        await first.session.close();
        await second.session.close();
      }
    });

    it("create of a taken name is CONFLICT and leaves the first guest alone", async () => {
      await rejectsWith(
        env.driver.create(spec("a", { uuid: randomUUID(), memoryMiB: env.memoryMiB })),
        "CONFLICT",
        "second create",
      );
      const listed = await find(env.driver, specA.name);
      assert.ok(listed && isLive(listed), "still running");
      assert.equal(listed.uuid, specA.uuid);
      assert.equal(listed.domid, infoA.domid);
      const watch = await readyConsole(specA.name);
      try {
        const token = `ep-${randomBytes(4).toString("hex")}-alive`;
        const from = watch.text.length;
        watch.send(`echo ${token}`);
        await watch.waitFor(new RegExp(`^${token}\\r?$`, "m"), 30_000, from);
      } finally {
        await watch.session.close();
      }
    });

    it("pause shows p, unpause clears it", async () => {
      await env.driver.pause(specA.name);
      const paused = await find(env.driver, specA.name);
      assert.ok(paused?.state.paused, `paused: ${JSON.stringify(paused?.state)}`);
      assert.equal(paused.state.running, false);
      assert.equal(paused.exit, null);
      await env.driver.unpause(specA.name);
      const resumed = await find(env.driver, specA.name);
      assert.ok(resumed && isLive(resumed), `resumed: ${JSON.stringify(resumed?.state)}`);
    });

    it("acts that name another uuid are CONFLICT and leave the guest as it was", async () => {
      const other = randomUUID();
      const name = specA.name;
      await rejectsWith(env.driver.pause(name, other), "CONFLICT", "pause");
      await rejectsWith(env.driver.reboot(name, other), "CONFLICT", "reboot");
      await rejectsWith(env.driver.shutdown(name, other), "CONFLICT", "shutdown");
      await rejectsWith(env.driver.console(name, other), "CONFLICT", "console");
      await rejectsWith(env.driver.destroy(name, other), "CONFLICT", "destroy");
      const listed = await find(env.driver, name);
      assert.ok(listed && isLive(listed), `still running: ${JSON.stringify(listed?.state)}`);
      assert.equal(listed.domid, infoA.domid, "the same guest");
      assert.equal(listed.uuid, specA.uuid);
      await rejectsWith(env.driver.unpause(name, other), "CONFLICT", "unpause of a paused guest");
      // The guest's own uuid, in either case, is obeyed.
      await env.driver.pause(name, specA.uuid.toUpperCase());
      await rejectsWith(env.driver.unpause(name, other), "CONFLICT", "unpause of a paused guest");
      assert.equal((await find(env.driver, name))?.state.paused, true, "still paused");
      await env.driver.unpause(name, specA.uuid);
      const resumed = await find(env.driver, name);
      assert.ok(resumed && isLive(resumed), `resumed: ${JSON.stringify(resumed?.state)}`);
      const watch = new ConsoleWatch(await env.driver.console(name, specA.uuid));
      await watch.session.close();
    });

    it("Domain-0 (domid 0), where the host lists one, is never acted on", async () => {
      const dom0 = (await env.driver.list()).find((info) => info.domid === 0);
      if (!dom0) return; // QEMU hosts have none
      // Only acts that xl would refuse for Domain-0 by itself, in case this check regressed.
      // Refused either as not the cluster's guest (CONFLICT) or by its name (INVALID_ARGUMENT).
      for (const [what, act] of [
        ["destroy", () => env.driver.destroy(dom0.name, dom0.uuid)],
        ["console", () => env.driver.console(dom0.name, dom0.uuid)],
      ] as const) {
        await assert.rejects(act(), (error: unknown) => {
          assert.ok(
            isEtherplaneError(error, "CONFLICT") || isEtherplaneError(error, "INVALID_ARGUMENT"),
            `${what}: expected a refusal, got ${String(error)}`,
          );
          return true;
        });
      }
      assert.ok(await find(env.driver, dom0.name), "still listed");
    });

    it("shutdown powers the guest off: exit poweroff, shutdown flag, listed until destroy", async () => {
      await env.driver.shutdown(specA.name);
      const off = await waitExit(env.driver, specA.name, "poweroff");
      assert.equal(off.state.shutdown, true);
      assert.equal(off.state.running, false);
      assert.equal(off.state.crashed, false);
      assert.equal(off.uuid, specA.uuid);
      // Still listed on a second look: the driver never cleans up by itself.
      assert.equal((await find(env.driver, specA.name))?.exit, "poweroff");
      await destroyClean(env.driver, specA.name, residueBeforeA);
      await rejectsWith(env.driver.destroy(specA.name, specA.uuid), "NOT_FOUND", "destroy again");
    });

    it("a vif on a missing bridge is UNAVAILABLE and leaves nothing behind", async () => {
      const before = await env.residue();
      const missing = spec("nobr", {
        vifs: [{ mac: randomMac(), bridge: `epnobr${tag}`.slice(0, 15) }],
      });
      await rejectsWith(env.driver.create(missing), "UNAVAILABLE", "create");
      created.delete(missing.name);
      assert.equal(await find(env.driver, missing.name), undefined);
      assert.deepEqual(await env.residue(), before);
    });

    it("a guest larger than the free memory is UNAVAILABLE and leaves nothing behind", async () => {
      const before = await env.residue();
      const { totalMemoryMiB } = await env.driver.hostInfo();
      const huge = spec("huge", { memoryMiB: totalMemoryMiB + 1024 });
      await rejectsWith(env.driver.create(huge), "UNAVAILABLE", "create");
      created.delete(huge.name);
      assert.equal(await find(env.driver, huge.name), undefined);
      assert.deepEqual(await env.residue(), before);
    });

    it("requests for an unknown guest are NOT_FOUND", async () => {
      const unknown = guestName("none");
      await rejectsWith(env.driver.destroy(unknown), "NOT_FOUND", "destroy");
      await rejectsWith(env.driver.shutdown(unknown), "NOT_FOUND", "shutdown");
      await rejectsWith(env.driver.reboot(unknown), "NOT_FOUND", "reboot");
      await rejectsWith(env.driver.pause(unknown), "NOT_FOUND", "pause");
      await rejectsWith(env.driver.unpause(unknown), "NOT_FOUND", "unpause");
      await rejectsWith(env.driver.console(unknown), "NOT_FOUND", "console");
    });

    it("a guest's own reboot is exit reboot; a second driver instance lists and destroys it", async () => {
      const residueBefore = await env.residue();
      const specB = spec("b");
      const infoB = await create(specB);
      const watch = await readyConsole(specB.name);
      try {
        watch.send(consoleGuestCommands.reboot);
        const stopped = await waitExit(env.driver, specB.name, "reboot");
        assert.equal(stopped.state.shutdown, true);
        assert.equal(stopped.state.running, false);
      } finally {
        await watch.session.close();
      }
      const second = await env.reopen();
      const seen = await find(second, specB.name);
      assert.ok(seen, "the new instance lists the guest");
      assert.equal(seen.exit, "reboot", "and knows why it stopped");
      assert.equal(seen.uuid, specB.uuid);
      assert.equal(seen.domid, infoB.domid);
      await destroyClean(second, specB.name, residueBefore);
      assert.equal(
        await find(env.driver, specB.name),
        undefined,
        "gone for the first instance too",
      );
    });

    it("a guest kernel crash is exit crash with the crashed flag", async () => {
      const residueBefore = await env.residue();
      const specC = spec("c");
      await create(specC);
      const watch = await readyConsole(specC.name);
      try {
        watch.send(consoleGuestCommands.crash);
        const crashed = await waitExit(env.driver, specC.name, "crash");
        assert.equal(crashed.state.crashed, true);
        assert.equal(crashed.state.running, false);
      } finally {
        await watch.session.close();
      }
      await destroyClean(env.driver, specC.name, residueBefore);
    });
  });
}
