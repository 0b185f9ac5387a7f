/**
 * What an export remembers across restarts: its MAC mask list, its reservation and its config
 * string (vblade keeps them in memory only). One small JSON file per export in the state
 * directory, replaced atomically (write, fsync, rename, fsync the directory) before the change
 * is acknowledged on the wire.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { EtherplaneError } from "../../foundation/errors.js";
import { macToString, parseMac } from "../codec/index.js";

export interface ExportState {
  macMask: Buffer[];
  reservation: Buffer[];
  configString: Buffer;
}

export function emptyExportState(): ExportState {
  return { macMask: [], reservation: [], configString: Buffer.alloc(0) };
}

export interface ExportStateStore {
  load(key: string): Promise<ExportState>;
  save(key: string, state: ExportState): Promise<void>;
}

interface StateFile {
  version: 1;
  macMask: string[];
  reservation: string[];
  configStringHex: string;
}

function macs(list: unknown, file: string): Buffer[] {
  if (!Array.isArray(list))
    throw new EtherplaneError("INVALID_CONFIG", `${file}: MAC list is not a list`);
  return list.map((text) => {
    const mac = typeof text === "string" ? parseMac(text) : undefined;
    if (!mac)
      throw new EtherplaneError("INVALID_CONFIG", `${file}: ${JSON.stringify(text)} is not a MAC`);
    return mac;
  });
}

export class FileExportStateStore implements ExportStateStore {
  /** Saves per export run one after another, so the newest state is the one left on disk. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(readonly dir: string) {}

  private file(key: string): string {
    return path.join(this.dir, `export-${key}.json`);
  }

  async load(key: string): Promise<ExportState> {
    const file = this.file(key);
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return emptyExportState();
      throw new EtherplaneError("IO_ERROR", `cannot read ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let raw: Partial<StateFile>;
    try {
      raw = JSON.parse(text) as Partial<StateFile>;
    } catch (cause) {
      throw new EtherplaneError(
        "INVALID_CONFIG",
        `${file} is corrupt (${(cause as Error).message}); move it away to start this export with an empty mask list and reservation`,
        { cause },
      );
    }
    return {
      macMask: macs(raw.macMask ?? [], file),
      reservation: macs(raw.reservation ?? [], file),
      configString: Buffer.from(
        typeof raw.configStringHex === "string" ? raw.configStringHex : "",
        "hex",
      ),
    };
  }

  save(key: string, state: ExportState): Promise<void> {
    const body: StateFile = {
      version: 1,
      macMask: state.macMask.map(macToString),
      reservation: state.reservation.map(macToString),
      configStringHex: state.configString.toString("hex"),
    };
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(() => this.write(key, JSON.stringify(body, null, 2) + "\n"));
    this.chains.set(key, next);
    return next;
  }

  private async write(key: string, text: string): Promise<void> {
    const file = this.file(key);
    const temp = `${file}.tmp`;
    try {
      await fs.mkdir(this.dir, { recursive: true });
      const handle = await fs.open(temp, "w", 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, file);
      const dir = await fs.open(this.dir, "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (error) {
      throw new EtherplaneError("IO_ERROR", `cannot save ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
