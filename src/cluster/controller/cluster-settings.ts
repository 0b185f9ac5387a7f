/**
 * The cluster's settings an admin sets (`etherplane settings set KEY VALUE`): placement's
 * overcommit for now. Each key has bounds, checked when it is set with a message that names the
 * key and the range; a key never set reads as its default.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { Store } from "../store/store.js";
import { PLACEMENT_SETTINGS_DEFAULT, type PlacementSettings } from "./placement.js";

interface SettingSpec {
  summary: string;
  default: number;
  min: number;
  max: number;
}

export const SETTINGS = {
  cpu_overcommit: {
    summary: "vCPUs a host's domains may have in all, per CPU of the host",
    default: PLACEMENT_SETTINGS_DEFAULT.cpuOvercommit,
    min: 0.25,
    max: 64,
  },
  memory_overcommit: {
    summary: "memory a host's domains may be promised, as a multiple of its memory (1: none)",
    default: PLACEMENT_SETTINGS_DEFAULT.memoryOvercommit,
    min: 0.5,
    max: 4,
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

export interface SettingView {
  key: SettingKey;
  value: number;
  default: number;
  min: number;
  max: number;
  summary: string;
}

function isKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

export class ClusterSettings {
  constructor(private readonly store: Store) {}

  async list(): Promise<SettingView[]> {
    const stored = await this.store.listSettings();
    return (Object.keys(SETTINGS) as SettingKey[]).map((key) => {
      const spec = SETTINGS[key];
      const value = stored[key];
      return {
        key,
        // A stored value out of today's bounds (an older etherplane's) reads as the default.
        value:
          typeof value === "number" && value >= spec.min && value <= spec.max
            ? value
            : spec.default,
        ...{ default: spec.default, min: spec.min, max: spec.max, summary: spec.summary },
      };
    });
  }

  async placement(): Promise<PlacementSettings> {
    const values = new Map((await this.list()).map((s) => [s.key, s.value]));
    return {
      cpuOvercommit: values.get("cpu_overcommit") ?? SETTINGS.cpu_overcommit.default,
      memoryOvercommit: values.get("memory_overcommit") ?? SETTINGS.memory_overcommit.default,
    };
  }

  /** Checks and stores one setting; returns it as it now reads. */
  async set(key: string, value: number): Promise<SettingView> {
    if (!isKey(key))
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `no setting "${key}"; the settings are ${Object.keys(SETTINGS).join(", ")}`,
        { params: { field: "key" } },
      );
    const spec = SETTINGS[key];
    if (!Number.isFinite(value) || value < spec.min || value > spec.max)
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `${key}: ${value} is out of range; give a number from ${spec.min} to ${spec.max} (default ${spec.default})`,
        { params: { field: "value" } },
      );
    await this.store.setSetting(key, value);
    const view = (await this.list()).find((s) => s.key === key);
    if (!view) throw new Error(`setting ${key} vanished`);
    return view;
  }
}
