/**
 * An NBD server over a real Unix socket and a file-backed BlockDevice (wrapped in a ProbeDevice)
 * with known contents, for the integration tests; plus the small waits they share.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { Logger } from "../../../foundation/log.js";
import { openFileBlockDevice } from "../../file/file-block-device.js";
import { startNbdServer, type NbdServer, type NbdServerOptions } from "../nbd-server.js";
import { ProbeDevice } from "./probe-device.js";

export const MiB = 1024 * 1024;
export const SIZE = 8 * MiB;

/** Deterministic, non-trivial contents (xorshift32) so that copies are checked byte for byte. */
export function pattern(bytes: number, seed: number): Buffer {
  const words = new Uint32Array(bytes / 4);
  let state = seed;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  return Buffer.from(words.buffer);
}

/** Records log records instead of printing them, so tests can assert on warnings. */
export function recordingLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  const record = (message: string, fields?: Record<string, unknown>) =>
    messages.push(`${message} ${JSON.stringify(fields ?? {})}`);
  return { messages, debug: () => {}, info: record, warn: record, error: record };
}

export interface Served {
  dir: string;
  imagePath: string;
  socketPath: string;
  uri: string;
  original: Buffer;
  probe: ProbeDevice;
  server: NbdServer;
  log: ReturnType<typeof recordingLogger>;
  close(): Promise<void>;
}

export async function serve(
  options: { readOnly?: boolean } & Partial<Omit<NbdServerOptions, "device" | "log">> = {},
): Promise<Served> {
  const { readOnly = false, ...serverOptions } = options;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ep-nbd-"));
  const imagePath = path.join(dir, "disk.img");
  const original = pattern(SIZE, 0x2545f491);
  await fs.writeFile(imagePath, original);
  const device = await openFileBlockDevice(imagePath, { readOnly });
  const probe = new ProbeDevice(device);
  const socketPath = options.socketPath ?? path.join(dir, "nbd.sock");
  const log = recordingLogger();
  let server: NbdServer;
  try {
    server = await startNbdServer({ ...serverOptions, device: probe, socketPath, log });
  } catch (error) {
    await device.close();
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
  const exportPath = options.exportName ?? "";
  return {
    dir,
    imagePath,
    socketPath,
    uri: `nbd+unix:///${exportPath}?socket=${socketPath}`,
    original,
    probe,
    server,
    log,
    close: async () => {
      await server.close();
      await device.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** The error serving on `socketPath` fails with; a server started by mistake is closed first. */
export async function serveFails(socketPath: string): Promise<unknown> {
  let served: Served;
  try {
    served = await serve({ socketPath });
  } catch (error) {
    return error;
  }
  await served.close();
  assert.fail(`serving on ${socketPath} should have failed`);
}

export async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
