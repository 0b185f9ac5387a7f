/**
 * The transport command the xen driver gives `xl migrate -s` instead of ssh (xen-migration.ts).
 * xl runs `sh -c "exec COMMAND HOST xl migrate-receive [-e] [-d] [-p]"` and speaks its migration
 * protocol over that command's stdin/stdout (create_migration_child and main_migrate,
 * tools/xl/xl_migrate.c). Here COMMAND is `node xl-migrate-transport.js` and HOST is the path of
 * a Unix socket the source agent listens on for this one migration (mode 0600 in a 0700 folder);
 * this process joins its stdin/stdout to that socket, and the agent joins the socket to the
 * stream the controller pipes to the destination agent, which runs `xl migrate-receive` on its
 * end. No ssh, no key, no listening port.
 *
 * Usage: xl-migrate-transport.js SOCKET xl [xl options] migrate-receive [options]
 * Exit: 0 once both directions ended cleanly, 1 when the socket failed, 2 on bad usage.
 */
import { connect, Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { joinStreams } from "../join-streams.js";

/** What xl appends after HOST (the receiver's command line), checked loosely: it is xl's own. */
export interface TransportArgs {
  socketPath: string;
}

/** A Unix socket path (sun_path holds 108 bytes with its NUL, linux/un.h). */
export const SOCKET_PATH_BYTES_MAX = 107;

/** The arguments after the script, or a reason they are not a transport call. */
export function parseTransportArgs(args: readonly string[]): TransportArgs | string {
  const [socketPath, xl, ...rest] = args;
  if (socketPath === undefined || xl === undefined)
    return "usage: xl-migrate-transport.js SOCKET xl ... migrate-receive ... (run by xl migrate -s)";
  if (!socketPath.startsWith("/") || Buffer.byteLength(socketPath) > SOCKET_PATH_BYTES_MAX)
    return `${JSON.stringify(socketPath)} is not an absolute socket path of at most ${SOCKET_PATH_BYTES_MAX} bytes`;
  if (!rest.includes("migrate-receive"))
    return `the command after the socket is not xl migrate-receive: ${[xl, ...rest].join(" ")}`;
  return { socketPath };
}

/**
 * Joins `input`/`output` to the socket at `socketPath` until both directions ended
 * (join-streams.ts). Each end is passed on as an end (xl closes its send side on failure and then
 * reads the receiver's last words), so what is buffered still flows. Resolves with the exit code.
 */
export function relayStdio(
  socketPath: string,
  input: Readable,
  output: Writable,
  report: (line: string) => void,
): Promise<number> {
  return new Promise((resolve) => {
    // Half-open: each direction ends on its own (an end is not a hang-up).
    const socket: Socket = connect({ path: socketPath, allowHalfOpen: true });
    joinStreams(socket, { readable: input, writable: output }, (error) => {
      if (error) report(`xl-migrate-transport: ${socketPath}: ${error.message}`);
      resolve(error ? 1 : 0);
    });
  });
}

async function main(): Promise<void> {
  const parsed = parseTransportArgs(process.argv.slice(2));
  if (typeof parsed === "string") {
    process.stderr.write(`xl-migrate-transport: ${parsed}\n`);
    process.exitCode = 2;
    return;
  }
  // process.stdout never closes fd 1 (Node keeps it for the process's life); xl must see the end
  // of the receiver's answers, so fd 1 is a socket of our own that closes on end.
  const output = new Socket({ fd: 1, readable: false, writable: true });
  process.exitCode = await relayStdio(parsed.socketPath, process.stdin, output, (line) =>
    process.stderr.write(`${line}\n`),
  );
  // stdin may stay open (xl keeps its end until it exits): do not wait for it.
  process.stdin.destroy();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
