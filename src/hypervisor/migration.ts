/**
 * Moving a running guest from one host to another (live migration), as a driver offers it. The
 * driver moves the guest's state only: the caller (the agent) brings up the guest's disks on the
 * destination first and tears them down on the source after, and carries the byte stream between
 * the two hosts (etherplane's agents never listen: the controller pipes the two agents' streams).
 *
 * The outcome rule is the hypervisor's own: the destination's copy runs only once the source's
 * state has fully arrived, and the source's copy resumes by itself when the transfer fails before
 * that (QEMU: migration `failed` resumes the source; `completed` leaves it `postmigrate`, paused).
 * So at no point do both copies run.
 */
import type { Duplex } from "node:stream";
import type { GuestInfo, GuestSpec } from "./guest.js";

/** What the source reports while it sends (QEMU's query-migrate, xl's progress lines). */
export interface MigrationProgress {
  transferredBytes: number;
  remainingBytes: number;
  totalBytes: number;
  /** Guest memory pages dirtied per second in the last pass (0 when unknown). */
  dirtyPagesRate: number;
  /** What the switch-over would cost now, in ms (null when the hypervisor does not say). */
  expectedDowntimeMs: number | null;
}

/** The final report of a completed migration, from the source. */
export interface MigrationReport {
  transferredBytes: number;
  totalTimeMs: number;
  /** How long the guest was stopped at switch-over (null when the hypervisor does not say). */
  downtimeMs: number | null;
}

/** Bounds of one migration, on each side. */
export interface MigrationLimits {
  /** The whole transfer; the source's copy resumes if it runs longer. */
  transferMsMax: number;
  /** The switch-over's pause the hypervisor aims for. */
  downtimeMsMax: number;
  /** The source's sending rate cap (QEMU's `max-bandwidth`), to spare a shared link. */
  bandwidthBytesPerSMax: number;
}

/** Bounds of the agent's `--migration-mibps` (MiB/s): a crawl to far beyond any link here. */
export const MIGRATION_MIBPS_MIN = 1;
export const MIGRATION_MIBPS_MAX = 1024;

export const MIGRATION_LIMITS_DEFAULT: MigrationLimits = {
  transferMsMax: 10 * 60_000,
  downtimeMsMax: 500,
  // No cap of our own: the stream's backpressure is the limit (QEMU's default is low).
  bandwidthBytesPerSMax: MIGRATION_MIBPS_MAX * 2 ** 20,
};

export interface GuestMigrator {
  /**
   * Destination: starts the guest of `spec` stopped and waiting for its state (disks and bridges
   * must be ready, as for `create`). Resolves once it waits; `receive` then takes the stream.
   * UNAVAILABLE when the host lacks what the spec needs; nothing is left behind on failure.
   */
  prepareIncoming(spec: GuestSpec): Promise<IncomingGuest>;
  /**
   * Source: sends the running guest over `stream`. Resolves once the destination has it all (the
   * source's copy is stopped then, and the caller destroys it); rejects when the transfer failed,
   * and the source's copy runs on as before.
   */
  send(
    name: string,
    uuid: string,
    stream: Duplex,
    onProgress: (progress: MigrationProgress) => void,
    limits?: MigrationLimits,
  ): Promise<MigrationReport>;
}

export interface IncomingGuest {
  /** Feeds the guest's state from `stream`; resolves once the guest runs here. */
  receive(stream: Duplex, limits?: MigrationLimits): Promise<GuestInfo>;
  /** Gives up: the waiting copy is destroyed (idempotent). */
  discard(): Promise<void>;
}
