/**
 * `etherplane console NAME`: the guest's serial console, through the controller, wherever the
 * guest runs. Like `xl console`: what the guest printed so far, then live, both ways; `^]` leaves.
 */
import { parse, usageError } from "../args.js";
import { ApiClient } from "../client/api-client.js";
import { resolveCaPem } from "../client/ca-trust.js";
import { resolveCliConfig, cliConfigFlags, cliConfigPath } from "../client/cli-config.js";
import { readTokenInput } from "../client/token-input.js";

const usage = "etherplane console NAME [--controller URL] [--token-file FILE]   (^] leaves)";
/** Until the controller has connected the console (the stream itself has no time limit). */
const consoleConnectTimeoutMs = 10_000;
/** Ctrl-] (GS), the escape of telnet, virsh console and xl console. */
const ESCAPE = 0x1d;

export async function consoleCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { ...cliConfigFlags }, usage);
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const name = positionals[0];
  if (!name) throw usageError("console: name the domain", usage);
  if (values.token === "-")
    throw usageError(
      "console: stdin is the console's keyboard, so --token - cannot read the token from it; " +
        "use --token-file FILE or ETHERPLANE_TOKEN",
      usage,
    );
  const token = await readTokenInput(values);
  const flags = {
    ...(typeof values.controller === "string" ? { controller: values.controller } : {}),
    ...(token !== undefined ? { token } : {}),
  };
  const settings = await resolveCliConfig({ flags });
  const caPem = resolveCaPem(cliConfigPath());
  const client = new ApiClient({
    baseUrl: settings.controller,
    token: settings.token,
    timeoutMs: consoleConnectTimeoutMs,
    caPem,
  });
  const socket = await client.upgrade(
    `/api/v1/domains/${encodeURIComponent(name)}/console`,
    "etherplane-console",
  );
  process.stderr.write(`Connected to ${name}'s console. Escape character is ^]\n`);
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  await new Promise<void>((resolve) => {
    const leave = () => {
      stdin.off("data", onInput);
      socket.end();
      socket.destroy();
      resolve();
    };
    const onInput = (chunk: Buffer) => {
      const at = chunk.indexOf(ESCAPE);
      if (at === -1) return void socket.write(chunk);
      if (at > 0) socket.write(chunk.subarray(0, at));
      leave();
    };
    stdin.on("data", onInput);
    socket.on("data", (chunk: Buffer) => process.stdout.write(chunk));
    socket.once("close", leave);
    socket.once("error", leave);
  });
  if (raw) stdin.setRawMode(false);
  stdin.pause();
  process.stderr.write("\n");
}
