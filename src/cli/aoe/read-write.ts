/**
 * `etherplane aoe read` (volume -> stdout) and `etherplane aoe write` (stdin -> volume), for
 * scripts. Data moves in 1 MiB pieces with back-pressure; `write` flushes at the end.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { parse, parseDeviceName, parseSize, stringList, usageError } from "../args.js";
import { openInitiator } from "./initiator-sockets.js";

const PIECE_BYTES = 1024 * 1024;
const readUsage = "etherplane aoe read eS.L --iface IF [--offset N] [--length N] > FILE";
const writeUsage = "etherplane aoe write eS.L --iface IF [--offset N] < FILE";

function writeOut(chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

export async function readCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      iface: { type: "string", short: "i", multiple: true },
      offset: { type: "string" },
      length: { type: "string" },
    },
    readUsage,
  );
  if (values.help) return void process.stdout.write(`usage: ${readUsage}\n`);
  const { shelf, slot } = parseDeviceName(positionals[0], readUsage);
  const ifaces = stringList(values.iface);
  if (ifaces.length === 0) throw usageError("name the interface with --iface", readUsage);
  const offset = values.offset === undefined ? 0 : parseSize("offset", values.offset);
  const initiator = openInitiator(ifaces);
  try {
    const device = await initiator.openDevice(shelf, slot);
    const length =
      values.length === undefined ? device.sizeBytes - offset : parseSize("length", values.length);
    if (offset + length > device.sizeBytes || offset > device.sizeBytes) {
      throw new EtherplaneError(
        "OUT_OF_RANGE",
        `offset ${offset} + length ${length} is beyond the end of e${shelf}.${slot} (${device.sizeBytes} bytes)`,
      );
    }
    // Two pieces in flight: one being read from the network while the other drains to stdout.
    let position = offset;
    let pending: Promise<Buffer> | undefined;
    const fetch = (at: number) => {
      const piece = Buffer.alloc(Math.min(PIECE_BYTES, offset + length - at));
      return device.read(piece, at).then(() => piece);
    };
    if (length > 0) pending = fetch(position);
    while (pending) {
      const piece = await pending;
      position += piece.length;
      pending = position < offset + length ? fetch(position) : undefined;
      await writeOut(piece);
    }
  } finally {
    initiator.close();
  }
}

async function* stdinPieces(): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    held.push(chunk);
    heldBytes += chunk.length;
    while (heldBytes >= PIECE_BYTES) {
      const all = Buffer.concat(held);
      yield all.subarray(0, PIECE_BYTES);
      held = [all.subarray(PIECE_BYTES)];
      heldBytes = all.length - PIECE_BYTES;
    }
  }
  if (heldBytes > 0) yield Buffer.concat(held);
}

export async function writeCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    { iface: { type: "string", short: "i", multiple: true }, offset: { type: "string" } },
    writeUsage,
  );
  if (values.help) return void process.stdout.write(`usage: ${writeUsage}\n`);
  const { shelf, slot } = parseDeviceName(positionals[0], writeUsage);
  const ifaces = stringList(values.iface);
  if (ifaces.length === 0) throw usageError("name the interface with --iface", writeUsage);
  const offset = values.offset === undefined ? 0 : parseSize("offset", values.offset);
  const initiator = openInitiator(ifaces);
  try {
    const device = await initiator.openDevice(shelf, slot);
    let position = offset;
    for await (const piece of stdinPieces()) {
      if (position + piece.length > device.sizeBytes) {
        throw new EtherplaneError(
          "OUT_OF_RANGE",
          `the input runs past the end of e${shelf}.${slot} (${device.sizeBytes} bytes) at byte ${device.sizeBytes - offset}; ${position - offset} bytes were written`,
        );
      }
      await device.write(piece, position);
      position += piece.length;
    }
    await device.flush();
    process.stderr.write(
      `wrote ${position - offset} bytes to e${shelf}.${slot} at offset ${offset}\n`,
    );
  } finally {
    initiator.close();
  }
}
