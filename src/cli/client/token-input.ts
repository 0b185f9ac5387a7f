/**
 * How a command is given a token: never as a command-line value, which every user of the host
 * sees in `ps` and which stays in shell history. `--token-file FILE` reads it from a file,
 * `--token -` from stdin, and ETHERPLANE_TOKEN (read by the caller) from the environment.
 */
import { open } from "node:fs/promises";
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import { checkToken, tokenCharsMax } from "./settings.js";

/** The flags of every command that takes a token; spread into its parseArgs options. */
export const tokenFlags = {
  token: { type: "string" },
  "token-file": { type: "string" },
} as const;

export const TOKEN_HOW =
  "pass it with --token-file FILE, the ETHERPLANE_TOKEN environment variable, or --token - " +
  "(read from stdin)";

/** A token file holds one line: the token, and at most a newline and some spaces around it. */
const tokenFileBytesMax = tokenCharsMax + 64;

export interface TokenInputSources {
  /** Reads stdin whole, at most `bytesMax` bytes (more is an error). */
  stdin?: (bytesMax: number) => Promise<string>;
}

/**
 * The token that --token-file or `--token -` gives, or undefined when neither is given (the
 * caller then looks at ETHERPLANE_TOKEN and the CLI's config). A value after --token is refused,
 * saying how to pass it instead.
 */
export async function readTokenInput(
  values: { token?: string | boolean | undefined; "token-file"?: string | boolean | undefined },
  sources: TokenInputSources = {},
): Promise<string | undefined> {
  const { token, "token-file": file } = values;
  if (typeof token === "string" && typeof file === "string")
    throw invalid("give --token - or --token-file, not both");
  if (typeof token === "string") {
    if (token !== "-")
      throw invalid(
        `--token does not take the token itself (every user of this host would see it in ps, and ` +
          `it would stay in your shell history): ${TOKEN_HOW}`,
      );
    const text = await (sources.stdin ?? readStdin)(tokenFileBytesMax);
    return checkToken(firstLine(text), "the token read from stdin (--token -)");
  }
  if (typeof file === "string") {
    if (file.length === 0) throw invalid("--token-file is empty; give the file's path");
    return checkToken(firstLine(await readSmallFile(file)), `the token in ${file}`);
  }
  return undefined;
}

/** The token is the first line, spaces around it removed (`echo T > file` adds a newline). */
function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").trim();
}

async function readSmallFile(file: string): Promise<string> {
  try {
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.alloc(tokenFileBytesMax + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > tokenFileBytesMax)
        throw invalid(`${file} is larger than ${tokenFileBytesMax} bytes: is it a token file?`);
      return buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if (cause instanceof EtherplaneError) throw cause;
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `--token-file: cannot read ${file}: ${errorMessage(cause)}`,
      { cause, params: { file } },
    );
  }
}

async function readStdin(bytesMax: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    if (bytes > bytesMax)
      throw invalid(`stdin holds more than ${bytesMax} bytes: give the token alone (--token -)`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function invalid(message: string): EtherplaneError {
  return new EtherplaneError("INVALID_ARGUMENT", message);
}
