/**
 * The receiving side's tools, spawned on this machine (the storage host that owns the volume):
 * losetup over the pool file, mkfs, mount, tar -x, rsync. Each call has a timeout and bounded
 * output; a failure is IO_ERROR with the tool's own message.
 */
import { spawn } from "node:child_process";
import { EtherplaneError } from "../foundation/errors.js";

export const TOOL_TIMEOUT_MS = 120_000;
const OUTPUT_BYTES_MAX = 1024 * 1024;

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; allowFailure?: boolean } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    const take = (into: Buffer[]) => (chunk: Buffer) => {
      if ((bytes += chunk.length) <= OUTPUT_BYTES_MAX) into.push(chunk);
    };
    child.stdout.on("data", take(out));
    child.stderr.on("data", take(err));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? TOOL_TIMEOUT_MS);
    child.once("error", (cause) => {
      clearTimeout(timer);
      reject(
        new EtherplaneError(
          "UNAVAILABLE",
          `${command} is not installed here (${cause.message}): run scripts/install.sh`,
          {
            cause,
          },
        ),
      );
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      const result = {
        code,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      };
      if (code !== 0 && options.allowFailure !== true)
        return reject(
          new EtherplaneError(
            "IO_ERROR",
            `${command} ${args.join(" ")} failed (${code ?? "killed"}): ${result.stderr.trim().slice(0, 500)}`,
            {
              params: { command },
            },
          ),
        );
      resolve(result);
    });
  });
}

export async function attachLoop(file: string): Promise<string> {
  return (await runTool("losetup", ["--find", "--show", file])).stdout.trim();
}

export async function detachLoop(device: string): Promise<void> {
  await runTool("losetup", ["-d", device], { allowFailure: true });
}

/** Makes the file system and returns its UUID (the new fstab's root). */
export async function makeFileSystem(
  device: string,
  fsType: string,
  label: string,
): Promise<string> {
  const safeLabel = label.replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 12);
  if (fsType === "xfs") await runTool("mkfs.xfs", ["-q", "-f", "-L", safeLabel, device]);
  else await runTool(`mkfs.${fsType}`, ["-q", "-F", "-L", safeLabel, device]);
  const uuid = (await runTool("blkid", ["-s", "UUID", "-o", "value", device])).stdout.trim();
  if (!/^[0-9a-fA-F-]{8,36}$/.test(uuid))
    throw new EtherplaneError(
      "IO_ERROR",
      `blkid gave no UUID for the new file system on ${device}`,
    );
  return uuid;
}

export async function mountDevice(device: string, dir: string): Promise<void> {
  await runTool("mount", [device, dir]);
}

export async function unmount(dir: string): Promise<void> {
  await runTool("umount", [dir], { allowFailure: true });
}

/** Refuses `--boot volume` before anything is made when this machine has no extlinux. */
export async function checkExtlinux(): Promise<void> {
  try {
    await runTool("extlinux", ["--version"], { allowFailure: true });
  } catch (cause) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      "--boot volume installs extlinux into the copy, and this machine has no extlinux: " +
        "install it (apt-get install extlinux) or leave out --boot volume; nothing was created",
      { cause },
    );
  }
}

/** extlinux's boot sector and ldlinux.sys, into the copy's file system mounted with `dir` in it. */
export async function installExtlinux(dir: string): Promise<void> {
  await runTool("extlinux", ["--install", dir]);
}
