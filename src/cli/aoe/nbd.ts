/**
 * `etherplane aoe nbd eS.L --iface IF --socket PATH`: serves an AoE volume as an NBD export on a
 * Unix socket, so QEMU, qemu-img and qemu-io can use it without the `aoe` kernel module:
 *   qemu-io -f raw nbd+unix:///?socket=PATH
 */
import { createLogger } from "../../foundation/log.js";
import { startNbdServer } from "../../block/nbd/nbd-server.js";
import { parse, parseDeviceName, stringList, usageError } from "../args.js";
import { openInitiator } from "./initiator-sockets.js";
import { parseRequestTimeoutMs, requestTimeoutUsage } from "./request-timeout-flag.js";
import { REQUEST_TIMEOUT_MS_DEFAULT } from "../../aoe/initiator/aoe-block-device.js";

const usage = `etherplane aoe nbd eS.L --iface IF [--iface IF2] --socket PATH\n  ${requestTimeoutUsage("--request-timeout-ms", REQUEST_TIMEOUT_MS_DEFAULT)}`;

export async function nbdCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      iface: { type: "string", short: "i", multiple: true },
      socket: { type: "string", short: "s" },
      "request-timeout-ms": { type: "string" },
    },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const { shelf, slot } = parseDeviceName(positionals[0], usage);
  const ifaces = stringList(values.iface);
  if (ifaces.length === 0) throw usageError("name the interface(s) with --iface", usage);
  if (!values.socket) throw usageError("give the Unix socket path with --socket", usage);
  const requestTimeoutMs = parseRequestTimeoutMs(
    "--request-timeout-ms",
    values["request-timeout-ms"],
    usage,
  );
  const log = createLogger("block:nbd");
  const initiator = openInitiator(ifaces);
  try {
    const device = await initiator.openDevice(
      shelf,
      slot,
      requestTimeoutMs === undefined ? {} : { requestTimeoutMs },
    );
    const server = await startNbdServer({ device, socketPath: values.socket, log });
    log.info(`serving e${shelf}.${slot} (${device.sizeBytes} bytes) over NBD`, {
      socket: values.socket,
      requestTimeoutMs: requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT,
      uri: `nbd+unix:///?socket=${values.socket}`,
    });
    await new Promise<void>((resolve) => {
      const stop = () => void server.close().finally(resolve);
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
  } finally {
    initiator.close();
  }
}
