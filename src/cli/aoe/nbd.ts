/**
 * `etherplane aoe nbd eS.L --iface IF --socket PATH`: serves an AoE volume as an NBD export on a
 * Unix socket, so QEMU, qemu-img and qemu-io can use it without the `aoe` kernel module:
 *   qemu-io -f raw nbd+unix:///?socket=PATH
 */
import { createLogger } from "../../foundation/log.js";
import { startNbdServer } from "../../block/nbd/nbd-server.js";
import { parse, parseDeviceName, stringList, usageError } from "../args.js";
import { openInitiator } from "./initiator-sockets.js";

const usage = "etherplane aoe nbd eS.L --iface IF [--iface IF2] --socket PATH";

export async function nbdCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      iface: { type: "string", short: "i", multiple: true },
      socket: { type: "string", short: "s" },
    },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const { shelf, slot } = parseDeviceName(positionals[0], usage);
  const ifaces = stringList(values.iface);
  if (ifaces.length === 0) throw usageError("name the interface(s) with --iface", usage);
  if (!values.socket) throw usageError("give the Unix socket path with --socket", usage);
  const log = createLogger("block:nbd");
  const initiator = openInitiator(ifaces);
  try {
    const device = await initiator.openDevice(shelf, slot);
    const server = await startNbdServer({ device, socketPath: values.socket, log });
    log.info(`serving e${shelf}.${slot} (${device.sizeBytes} bytes) over NBD`, {
      socket: values.socket,
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
