/**
 * Where the CLI finds its controller and token: flags (--controller, --token-file or `--token -`,
 * token-input.ts; never a token on the command line), then the
 * environment (ETHERPLANE_CONTROLLER, ETHERPLANE_TOKEN), then the config file written by
 * `etherplane up` and `etherplane login` (ETHERPLANE_CONFIG, else
 * $XDG_CONFIG_HOME/etherplane/config.json, else ~/.config/etherplane/config.json). Each setting
 * is taken from the first place that has it.
 */
import { mkdir, open } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { replaceFile } from "../../foundation/atomic-file.js";
import { EtherplaneError, errorMessage, isEtherplaneError } from "../../foundation/errors.js";
import { isObject } from "./api-errors.js";
import { checkControllerUrl, checkToken, type CliSettings } from "./settings.js";
import { tokenFlags } from "./token-input.js";

export type { CliSettings } from "./settings.js";

/** The flags every controller command takes; spread into a command's parseArgs options. */
export const cliConfigFlags = {
  controller: { type: "string" },
  ...tokenFlags,
} as const;

export interface ResolveCliConfigOptions {
  /** `token` is what --token-file or `--token -` gave (token-input.ts). */
  flags?: { controller?: string | undefined; token?: string | undefined };
  env?: Readonly<Record<string, string | undefined>>;
  /** For tests; defaults to os.homedir(). */
  homeDir?: string;
}

export const configFileBytesMax = 64 * 1024;
const loginFix =
  "log in with `etherplane login --controller URL --token-file FILE`, or run `etherplane up` to start " +
  "a controller on this machine";

export function cliConfigPath(
  env: Readonly<Record<string, string | undefined>> = process.env,
  homeDir: string = homedir(),
): string {
  const explicit = env["ETHERPLANE_CONFIG"];
  if (explicit) return explicit;
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and is to be ignored.
  const xdg = env["XDG_CONFIG_HOME"];
  const base = xdg && isAbsolute(xdg) ? xdg : join(homeDir, ".config");
  return join(base, "etherplane", "config.json");
}

export async function resolveCliConfig(
  options: ResolveCliConfigOptions = {},
): Promise<CliSettings> {
  const { flags = {}, env = process.env } = options;
  let controller: string | undefined;
  let token: string | undefined;
  // An empty flag is a mistake; an empty variable is the shell's way of unsetting it.
  if (flags.controller !== undefined)
    controller = checkControllerUrl(flags.controller, "--controller");
  else if (env["ETHERPLANE_CONTROLLER"])
    controller = checkControllerUrl(env["ETHERPLANE_CONTROLLER"], "ETHERPLANE_CONTROLLER");
  if (flags.token !== undefined) token = checkToken(flags.token, "--token");
  else if (env["ETHERPLANE_TOKEN"]) token = checkToken(env["ETHERPLANE_TOKEN"], "ETHERPLANE_TOKEN");
  if (controller !== undefined && token !== undefined) return { controller, token };

  // Only read the file when it is needed, so that a broken file does not stop explicit settings.
  const file = cliConfigPath(env, options.homeDir);
  const saved = await readCliConfig(file);
  controller ??= saved?.controller;
  token ??= saved?.token;
  if (token === undefined) {
    throw new EtherplaneError(
      "UNAUTHENTICATED",
      `not logged in${controller ? ` to ${controller}` : ""}: no token from --token-file, ` +
        `--token -, ETHERPLANE_TOKEN or ${file}; ${loginFix}`,
      { params: { file } },
    );
  }
  if (controller === undefined) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `no controller to talk to: none in --controller, ETHERPLANE_CONTROLLER or ${file}; ` +
        loginFix,
      { params: { file } },
    );
  }
  return { controller, token };
}

/** Reads a config file; undefined when it does not exist. Either key may be missing. */
export async function readCliConfig(file: string): Promise<Partial<CliSettings> | undefined> {
  let text: string;
  try {
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.alloc(configFileBytesMax + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > configFileBytesMax)
        throw invalidConfig(`${file} is larger than ${configFileBytesMax} bytes`, file);
      text = buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if (isEtherplaneError(cause)) throw cause;
    if (isObject(cause) && cause["code"] === "ENOENT") return undefined;
    throw new EtherplaneError("IO_ERROR", `cannot read ${file}: ${errorMessage(cause)}`, {
      cause,
      params: { file },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // No cause and no parser message: V8 quotes the text around the error, which may be the token.
    throw invalidConfig(
      `${file} is not valid JSON; fix it, or write it again with ` +
        "`etherplane login --controller URL --token-file FILE`",
      file,
    );
  }
  if (!isObject(value))
    throw invalidConfig(
      `${file} must hold a JSON object like {"controller": ..., "token": ...}`,
      file,
    );
  const settings: Partial<CliSettings> = {};
  for (const key of ["controller", "token"] as const) {
    const field = value[key];
    if (field === undefined) continue;
    if (typeof field !== "string") throw invalidConfig(`${file}: "${key}" must be a string`, file);
    try {
      settings[key] =
        key === "controller"
          ? checkControllerUrl(field, `${file}: "controller"`)
          : checkToken(field, `${file}: "token"`);
    } catch (cause) {
      throw invalidConfig(errorMessage(cause), file);
    }
  }
  return settings;
}

/**
 * Writes both settings to `file` (mode 0600, its folder 0700 when created), atomically: a reader
 * sees the old file or the new one, never a part.
 */
export async function writeCliConfig(file: string, settings: CliSettings): Promise<void> {
  const content =
    JSON.stringify(
      {
        controller: checkControllerUrl(settings.controller, "the controller URL"),
        token: checkToken(settings.token, "the token"),
      },
      null,
      2,
    ) + "\n";
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await replaceFile(file, content);
  } catch (cause) {
    throw new EtherplaneError("IO_ERROR", `cannot write ${file}: ${errorMessage(cause)}`, {
      cause,
      params: { file },
    });
  }
}

function invalidConfig(message: string, file: string): EtherplaneError {
  return new EtherplaneError("INVALID_CONFIG", message, { params: { file } });
}
