/**
 * Recent samples of each host for the web UI's small charts, kept in the controller's memory
 * only (lost on restart: they are pictures, not records). Fed by the agents' status reports:
 * memory used (the hypervisor's numbers), the guests' CPU load (the growth of their CPU time
 * between two reports, in vCPUs), and the host's pools' space used. Bounded: samples per host,
 * hosts, and at most one sample per `sampleMsMin` (agents may report more often).
 */
import type { AgentStatus } from "../cluster/agent-protocol.js";

export const SAMPLES_PER_HOST_MAX = 120;
export const HOSTS_MAX = 1024;
export const SAMPLE_MS_MIN = 5000;

export interface HostSample {
  atMs: number;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
  /** vCPU-seconds the host's guests used per second since the previous sample. */
  cpuLoad: number | null;
  poolUsedBytes: number | null;
  poolCapacityBytes: number | null;
  /** Each AoE export's bytes read and written per second since the previous sample. */
  exports: ExportRate[];
}

export interface ExportRate {
  volumeId: string;
  readBps: number;
  writeBps: number;
}

/** Exports charted per host sample (the busiest first): a bound on a sample's size. */
export const EXPORTS_PER_SAMPLE_MAX = 32;

interface HostTrack {
  samples: HostSample[];
  /** Each export's byte counters at the last sample, by volume id. */
  io: Map<string, { readBytes: number; writtenBytes: number }>;
  /** Each running guest's CPU time (s) at the last sample, by domain id and domid. */
  cpuTimes: Map<string, number>;
  lastMs: number;
}

export class HostMetrics {
  private readonly hosts = new Map<string, HostTrack>();

  constructor(
    private readonly samplesMax = SAMPLES_PER_HOST_MAX,
    private readonly hostsMax = HOSTS_MAX,
    private readonly sampleMsMin = SAMPLE_MS_MIN,
  ) {}

  /** Takes one report of `hostId` made at `nowMs`; reports closer than sampleMsMin are skipped. */
  record(hostId: string, status: AgentStatus, nowMs: number): void {
    let track = this.hosts.get(hostId);
    if (track && nowMs - track.lastMs < this.sampleMsMin) return;
    if (!track) {
      if (this.hosts.size >= this.hostsMax) this.forgetStalest();
      track = {
        samples: [],
        io: new Map(),
        cpuTimes: new Map(),
        lastMs: Number.NEGATIVE_INFINITY,
      };
      this.hosts.set(hostId, track);
    }
    const hv = status.inventory.hypervisor;
    const cpuTimes = new Map<string, number>();
    let cpuDeltaS = 0;
    for (const domain of status.domains ?? []) {
      if (domain.domid === null) continue;
      // A restarted guest (new domid) starts its CPU time again: it counts from its next report.
      const key = `${domain.id}/${domain.domid}`;
      cpuTimes.set(key, domain.cpuTimeS);
      const before = track.cpuTimes.get(key);
      if (before !== undefined && domain.cpuTimeS >= before) cpuDeltaS += domain.cpuTimeS - before;
    }
    const elapsedS = (nowMs - track.lastMs) / 1000;
    const io = new Map<string, { readBytes: number; writtenBytes: number }>();
    const exports: ExportRate[] = [];
    for (const volume of status.volumes) {
      if (!volume.io) continue;
      io.set(volume.id, volume.io);
      const before = track.io.get(volume.id);
      // Counters start again when the target restarts: that export counts from its next sample.
      if (
        !before ||
        !(elapsedS > 0) ||
        volume.io.readBytes < before.readBytes ||
        volume.io.writtenBytes < before.writtenBytes
      )
        continue;
      exports.push({
        volumeId: volume.id,
        readBps: (volume.io.readBytes - before.readBytes) / elapsedS,
        writeBps: (volume.io.writtenBytes - before.writtenBytes) / elapsedS,
      });
    }
    exports.sort((a, b) => b.readBps + b.writeBps - (a.readBps + a.writeBps));
    exports.splice(EXPORTS_PER_SAMPLE_MAX);
    const pools = status.pools.filter((p) => p.error === null);
    track.samples.push({
      atMs: nowMs,
      memoryUsedMiB: hv ? hv.totalMemoryMiB - hv.freeMemoryMiB : null,
      memoryTotalMiB: hv ? hv.totalMemoryMiB : null,
      cpuLoad:
        status.domains && Number.isFinite(elapsedS) && elapsedS > 0 ? cpuDeltaS / elapsedS : null,
      poolUsedBytes: pools.length
        ? pools.reduce((sum, p) => sum + p.capacityBytes - p.freeBytes, 0)
        : null,
      poolCapacityBytes: pools.length ? pools.reduce((sum, p) => sum + p.capacityBytes, 0) : null,
      exports,
    });
    if (track.samples.length > this.samplesMax)
      track.samples.splice(0, track.samples.length - this.samplesMax);
    track.cpuTimes = cpuTimes;
    track.io = io;
    track.lastMs = nowMs;
  }

  /** Every host's samples, oldest first (copies). */
  list(): Array<{ hostId: string; samples: HostSample[] }> {
    return [...this.hosts.entries()].map(([hostId, t]) => ({ hostId, samples: [...t.samples] }));
  }

  /** A host gone from the cluster. */
  forget(hostId: string): void {
    this.hosts.delete(hostId);
  }

  private forgetStalest(): void {
    let stalest: string | null = null;
    let oldestMs = Number.POSITIVE_INFINITY;
    for (const [id, t] of this.hosts)
      if (t.lastMs < oldestMs) {
        oldestMs = t.lastMs;
        stalest = id;
      }
    if (stalest !== null) this.hosts.delete(stalest);
  }
}
