/** The agent's live-migration flag (`agent --migration-mibps N`), checked against its bounds. */
import {
  MIGRATION_LIMITS_DEFAULT,
  MIGRATION_MIBPS_MAX,
  MIGRATION_MIBPS_MIN,
  type MigrationLimits,
} from "../../hypervisor/migration.js";
import { usageError } from "../args.js";

export const migrationUsage = `[--migration-mibps N] (compute: cap a live migration's sending rate, ${MIGRATION_MIBPS_MIN} to ${MIGRATION_MIBPS_MAX} MiB/s; default no cap)`;

/** The limits for `--migration-mibps TEXT` (the defaults when absent). */
export function parseMigrationMibps(text: string | undefined, usage: string): MigrationLimits {
  if (text === undefined) return MIGRATION_LIMITS_DEFAULT;
  const value = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= MIGRATION_MIBPS_MIN && value <= MIGRATION_MIBPS_MAX))
    throw usageError(
      `--migration-mibps ${text}: give a whole number of MiB/s from ${MIGRATION_MIBPS_MIN} to ${MIGRATION_MIBPS_MAX}`,
      usage,
    );
  return { ...MIGRATION_LIMITS_DEFAULT, bandwidthBytesPerSMax: value * 2 ** 20 };
}
