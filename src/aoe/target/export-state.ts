/**
 * What an export remembers across restarts: its MAC mask list, its reservation and its config
 * string (vblade keeps them in memory only), and the backing they were set for. One small JSON
 * file per export in the state directory, replaced atomically (write, fsync, rename, fsync the
 * directory) before the change is acknowledged on the wire.
 *
 * State recorded for another backing than the one served now is not applied: the file is moved
 * aside (`export-S.L.json.stale-MS`, kept for inspection) and the export starts open. A file from
 * before backings were recorded (version 1) is adopted once by whatever is served now.
 */
import type { BigIntStats } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fsyncDirectory, replaceFile } from "../../foundation/atomic-file.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { KeyedLock } from "../../foundation/keyed-lock.js";
import { macToString, parseMac } from "../codec/index.js";
import {
  backingFromJson,
  backingToJson,
  sameBacking,
  sameRecord,
  type Backing,
  type BackingRef,
} from "./backing.js";

export interface ExportState {
  macMask: Buffer[];
  reservation: Buffer[];
  configString: Buffer;
}

export function emptyExportState(): ExportState {
  return { macMask: [], reservation: [], configString: Buffer.alloc(0) };
}

/** What an export saves its edits through (bound to the backing it serves). */
export interface ExportStateStore {
  save(key: string, state: ExportState): Promise<void>;
}

/**
 * - new: nothing was recorded for this address;
 * - kept: recorded for this backing;
 * - adopted: recorded before backings were (a version 1 file): applied once, to be re-recorded;
 * - set-aside: recorded for another backing: not applied, the file moved to `previous.movedTo`.
 */
export type StateOrigin = "new" | "kept" | "adopted" | "set-aside";

export interface LoadedExportState {
  state: ExportState;
  /** The backing served now, to save with. */
  backing: Backing;
  origin: StateOrigin;
  /** Whether the file should be rewritten now (adopted, or the same backing at a new path). */
  rewrite: boolean;
  previous?: { backing: Backing; state: ExportState; movedTo: string };
}

/** Where the target keeps export state: the file store, or a fake in tests and simulators. */
export interface BackedStateStore {
  load(key: string, ref: BackingRef): Promise<LoadedExportState>;
  save(key: string, backing: Backing, state: ExportState): Promise<void>;
}

/** Files moved aside per export that are kept (the oldest beyond this are deleted). */
export const SET_ASIDE_FILES_MAX = 8;

interface StateFile {
  version: 2;
  backing: Record<string, unknown>;
  macMask: string[];
  reservation: string[];
  configStringHex: string;
}

const STATE_FILE = /^export-(\d{1,5}\.\d{1,3})\.json$/;

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

function corrupt(file: string, key: string, problem: string, cause?: unknown): EtherplaneError {
  return new EtherplaneError(
    "INVALID_CONFIG",
    `${file} is corrupt (${problem}); start with \`etherplane aoe serve --reset-state ${key}\` (it keeps the file aside) to serve e${key} with an empty mask list and reservation`,
    cause === undefined ? {} : { cause },
  );
}

/** Reads a state file: undefined when there is none. */
async function readStateFile(
  file: string,
  key: string,
): Promise<{ state: ExportState; backing?: Backing } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new EtherplaneError("IO_ERROR", `cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let raw: Partial<StateFile>;
  try {
    raw = JSON.parse(text) as Partial<StateFile>;
  } catch (cause) {
    throw corrupt(file, key, (cause as Error).message, cause);
  }
  if (typeof raw !== "object" || raw === null) throw corrupt(file, key, "not a JSON object");
  const state: ExportState = {
    macMask: macs(raw.macMask ?? [], file),
    reservation: macs(raw.reservation ?? [], file),
    configString: Buffer.from(
      typeof raw.configStringHex === "string" ? raw.configStringHex : "",
      "hex",
    ),
  };
  if (raw.backing === undefined) return { state };
  const backing = backingFromJson(raw.backing);
  if (typeof backing === "string") throw corrupt(file, key, `backing: ${backing}`);
  return { state, backing };
}

/** A backing's identity from the file system: st_dev + st_ino of a regular file. */
export async function identifyBacking(ref: BackingRef): Promise<Backing> {
  let stats: BigIntStats;
  try {
    stats = await fs.stat(ref.path, { bigint: true });
  } catch (error) {
    throw new EtherplaneError("IO_ERROR", `cannot stat ${ref.path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const base = {
    path: ref.path,
    ...(ref.volumeId !== undefined ? { volumeId: ref.volumeId } : {}),
  };
  if (stats.isFile())
    return { ...base, kind: "file", dev: stats.dev.toString(), ino: stats.ino.toString() };
  return { ...base, kind: stats.isBlockDevice() ? "block" : "other" };
}

export class FileExportStateStore implements BackedStateStore {
  /** Saves per export run one after another, so the newest state is the one left on disk. */
  private readonly chains = new KeyedLock({ what: "export", param: "key" });

  constructor(
    readonly dir: string,
    private readonly identify: (ref: BackingRef) => Promise<Backing> = identifyBacking,
    private readonly nowMs: () => number = Date.now,
  ) {}

  private file(key: string): string {
    return path.join(this.dir, `export-${key}.json`);
  }

  async load(key: string, ref: BackingRef): Promise<LoadedExportState> {
    const backing = await this.identify(ref);
    // Read and move aside in one step, so no save of the export's slips in between.
    return this.queued(key, async (): Promise<LoadedExportState> => {
      const found = await readStateFile(this.file(key), key);
      if (!found) return { state: emptyExportState(), backing, origin: "new", rewrite: false };
      if (!found.backing) return { state: found.state, backing, origin: "adopted", rewrite: true };
      if (sameBacking(found.backing, backing)) {
        const rewrite = !sameRecord(found.backing, backing);
        return { state: found.state, backing, origin: "kept", rewrite };
      }
      const movedTo = await this.moveAside(key, "stale");
      return {
        state: emptyExportState(),
        backing,
        origin: "set-aside",
        rewrite: false,
        previous: { backing: found.backing, state: found.state, movedTo },
      };
    });
  }

  save(key: string, backing: Backing, state: ExportState): Promise<void> {
    const body: StateFile = {
      version: 2,
      backing: backingToJson(backing),
      macMask: state.macMask.map(macToString),
      reservation: state.reservation.map(macToString),
      configStringHex: state.configString.toString("hex"),
    };
    return this.queued(key, () => this.write(key, JSON.stringify(body, null, 2) + "\n"));
  }

  /** The addresses that have a state file. */
  async keys(): Promise<string[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new EtherplaneError(
        "IO_ERROR",
        `cannot list ${this.dir}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return names.flatMap((name) => STATE_FILE.exec(name)?.[1] ?? []).sort();
  }

  /**
   * Clears an export's persisted state (the admin's explicit word): the file is moved aside as
   * `export-S.L.json.reset-MS`. Returns what was there, or undefined when there was nothing.
   */
  async reset(
    key: string,
  ): Promise<{ state: ExportState; backing?: Backing; movedTo: string } | undefined> {
    return this.queued(key, async () => {
      // A corrupt file is cleared too: that is what the admin is asked to do about one.
      const found = await readStateFile(this.file(key), key).catch(() => ({
        state: emptyExportState(),
      }));
      if (!found) return undefined;
      return { ...found, movedTo: await this.moveAside(key, "reset") };
    });
  }

  /** Runs `task` after the export's earlier file operations, in order. */
  private queued<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.chains.run(key, task);
  }

  private async moveAside(key: string, why: "stale" | "reset"): Promise<string> {
    const file = this.file(key);
    const stamp = this.nowMs();
    let target = `${file}.${why}-${stamp}`;
    for (let n = 2; await exists(target); n++) target = `${file}.${why}-${stamp}-${n}`;
    try {
      await fs.rename(file, target);
      await fsyncDirectory(this.dir);
    } catch (error) {
      throw new EtherplaneError(
        "IO_ERROR",
        `cannot move ${file} aside: ${(error as Error).message}`,
        { cause: error },
      );
    }
    await this.prune(key);
    return target;
  }

  /** Keeps the newest SET_ASIDE_FILES_MAX files moved aside for `key`. */
  private async prune(key: string): Promise<void> {
    const prefix = `export-${key}.json.`;
    const names = (await fs.readdir(this.dir)).filter(
      (name) =>
        name.startsWith(prefix) && /^(stale|reset)-\d+(-\d+)?$/.test(name.slice(prefix.length)),
    );
    const stampOf = (name: string) => {
      const [, ms, n] = /-(\d+)(?:-(\d+))?$/.exec(name) ?? [];
      return Number(ms) * 1000 + Number(n ?? 0);
    };
    names.sort((a, b) => stampOf(b) - stampOf(a));
    for (const name of names.slice(SET_ASIDE_FILES_MAX))
      await fs.rm(path.join(this.dir, name), { force: true });
  }

  private async write(key: string, text: string): Promise<void> {
    const file = this.file(key);
    try {
      await fs.mkdir(this.dir, { recursive: true });
      await replaceFile(file, text);
    } catch (error) {
      throw new EtherplaneError("IO_ERROR", `cannot save ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** An in-memory store for fast tests and simulators (a fake: backings compare by path and id). */
export class MemoryExportStateStore implements BackedStateStore {
  readonly files = new Map<string, { backing: Backing | undefined; state: ExportState }>();
  readonly setAside: Array<{ key: string; backing: Backing | undefined; state: ExportState }> = [];

  load(key: string, ref: BackingRef): Promise<LoadedExportState> {
    const backing: Backing = { ...ref, kind: "other" };
    const found = this.files.get(key);
    if (!found)
      return Promise.resolve({ state: emptyExportState(), backing, origin: "new", rewrite: false });
    if (!found.backing)
      return Promise.resolve({ state: found.state, backing, origin: "adopted", rewrite: true });
    if (sameBacking(found.backing, backing))
      return Promise.resolve({ state: found.state, backing, origin: "kept", rewrite: false });
    this.files.delete(key);
    this.setAside.push({ key, ...found });
    return Promise.resolve({
      state: emptyExportState(),
      backing,
      origin: "set-aside",
      rewrite: false,
      previous: { backing: found.backing, state: found.state, movedTo: `memory:${key}` },
    });
  }

  save(key: string, backing: Backing, state: ExportState): Promise<void> {
    this.files.set(key, { backing, state });
    return Promise.resolve();
  }
}
