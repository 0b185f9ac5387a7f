/**
 * XenDriver calls as a command, printing their outcomes as one JSON line, for tests that drive
 * the real driver inside the Xen host lab's dom0 (`node` and the repository copied there; node
 * takes seconds to start under TCG, so a test sends its calls in one batch):
 *
 *   node driver-cli.js '{"options": {"stateDir": "/tmp/ep-xen"},
 *                        "calls": [{"call": "list", "args": []}, ...]}'
 *   [{"ok":true,"value":[{"name":"Domain-0",...}]},
 *    {"ok":false,"code":"NOT_FOUND","message":"no guest nosuch on this host: ..."}]
 *
 * Every call is a new driver instance, as after an agent restart: what it finds, it finds in xl.
 * Two calls exist for tests only: `waitForExit(name, timeoutMs)` polls `list` until the guest
 * has an exit, and `consoleExchange(name, input, waitMs)` attaches two sessions, writes `input`
 * through the first, and returns the history and what each session read.
 */
import { errorMessage, isEtherplaneError } from "../../../foundation/errors.js";
import type { GuestConsoleSession, GuestInfo } from "../../driver.js";
import type { XenDriverOptions } from "../xen-driver-options.js";
import { XenDriver } from "../xen-driver.js";

interface Call {
  call: string;
  args: unknown[];
}

interface Request {
  options: XenDriverOptions;
  calls: Call[];
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForExit(xen: XenDriver, name: string, timeoutMs: number): Promise<GuestInfo> {
  const startMs = Date.now();
  for (;;) {
    const guest = (await xen.list()).find((g) => g.name === name);
    if (guest?.exit != null) return guest;
    if (Date.now() - startMs > timeoutMs) {
      throw new Error(`${name} has no exit after ${timeoutMs} ms: ${JSON.stringify(guest)}`);
    }
    await delay(500);
  }
}

async function consoleExchange(xen: XenDriver, name: string, input: string, waitMs: number) {
  const read = (session: GuestConsoleSession) => {
    const chunks: Buffer[] = [];
    session.stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    return () => Buffer.concat(chunks).toString("latin1");
  };
  const first = await xen.console(name);
  const second = await xen.console(name);
  const firstRead = read(first);
  const secondRead = read(second);
  first.stream.write(input);
  await delay(waitMs);
  await first.close();
  await second.close();
  return {
    history: first.history.toString("latin1"),
    secondHistoryBytes: second.history.length,
    first: firstRead(),
    second: secondRead(),
  };
}

async function call(options: XenDriverOptions, request: Call): Promise<unknown> {
  const xen = new XenDriver(options);
  const a = request.args;
  const name = String(a[0]);
  switch (request.call) {
    case "hostInfo":
      return xen.hostInfo();
    case "list":
      return xen.list();
    case "create":
      return xen.create(a[0] as Parameters<XenDriver["create"]>[0]);
    case "shutdown":
    case "reboot":
    case "destroy":
    case "pause":
    case "unpause":
      return xen[request.call](name);
    case "waitForExit":
      return waitForExit(xen, name, Number(a[1]));
    case "consoleExchange":
      return consoleExchange(xen, name, String(a[1]), Number(a[2]));
    default:
      throw new Error(`unknown call ${request.call}`);
  }
}

const request = JSON.parse(process.argv[2] ?? "{}") as Request;
const outcomes: unknown[] = [];
for (const one of request.calls) {
  try {
    outcomes.push({ ok: true, value: (await call(request.options, one)) ?? null });
  } catch (error) {
    const code = isEtherplaneError(error) ? error.code : "UNEXPECTED";
    outcomes.push({ ok: false, code, message: errorMessage(error) });
  }
}
process.stdout.write(JSON.stringify(outcomes) + "\n");
