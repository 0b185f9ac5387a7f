/**
 * Domains as the API and CLI see them: import, edit, export and delete of their xl.cfg files.
 * Lifecycle changes (start, shutdown...) are domain-lifecycle.ts; what agents report is
 * domain-observer.ts.
 */
import { randomUUID } from "node:crypto";
import { EtherplaneError } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";
import { importDomainFile, type ImportedDomain } from "../../domain/import/domain-import.js";
import { normalizeMac } from "../../domain/mac/mac-address.js";
import {
  DEFAULT_POLICY_OPTIONS,
  checkDomainPolicy,
  type PolicyActor,
  type PolicyFinding,
  type PolicyOptions,
} from "../../domain/policy/index.js";
import { parseXlConfig } from "../../domain/xl-cfg/index.js";
import type { DomainRecord } from "../model.js";
import type { Store } from "../store/store.js";

/** xl's own limit on a domain file is far above this; real files are a few hundred bytes. */
export const DOMAIN_FILE_BYTES_MAX = 256 * 1024;
/** How long a graceful shutdown may take before etherplane destroys the guest. */
export const SHUTDOWN_TIMEOUT_S_DEFAULT = 60;

export interface DomainImportResult {
  domain: DomainRecord;
  changes: string[];
  warnings: string[];
  /** Settings the domain policy refuses that an admin allowed (for the audit log). */
  unsafeAllowed: PolicyFinding[];
}

/** Who acts when a caller does not say: allowed nothing the policy refuses. */
export const NO_ALLOWANCE: PolicyActor = { role: "operator", allowUnsafe: [] };

export type MacAllocator = (used: ReadonlySet<string>) => string;

export class DomainService {
  constructor(
    private readonly store: Store,
    private readonly allocateMac: MacAllocator,
    private readonly now: () => number = Date.now,
    private readonly policy: PolicyOptions = DEFAULT_POLICY_OPTIONS,
  ) {}

  async get(ref: string): Promise<DomainRecord> {
    const domain = (await this.store.getDomain(ref)) ?? (await this.store.findDomainByName(ref));
    if (!domain)
      throw new EtherplaneError("NOT_FOUND", `no domain "${ref}"; see etherplane list`, {
        params: { field: "domain" },
      });
    return domain;
  }

  list(filter: { hostId?: string } = {}): Promise<DomainRecord[]> {
    return this.store.listDomains(filter);
  }

  /** Reads a domain file into a new domain; CONFLICT if its name is taken. */
  async importFile(
    text: string,
    source: string,
    actor: PolicyActor = NO_ALLOWANCE,
  ): Promise<DomainImportResult> {
    const imported = await this.read(text, source, undefined, actor);
    const existing = await this.store.findDomainByName(imported.name);
    if (existing)
      throw new EtherplaneError(
        "CONFLICT",
        `domain name "${imported.name}" is taken; edit it with etherplane domain edit ${imported.name}, or delete it first`,
        { params: { field: "name" } },
      );
    const time = this.now();
    const domain: DomainRecord = {
      id: newId("dom"),
      ...this.fields(imported),
      antiAffinity: null,
      pinHosts: [],
      hostId: null,
      placed: null,
      desiredState: "stopped",
      stopMode: "shutdown",
      shutdownTimeoutS: SHUTDOWN_TIMEOUT_S_DEFAULT,
      rebootSeq: 0,
      observed: null,
      generation: 1,
      createdMs: time,
      updatedMs: time,
    };
    await this.store.createDomain(domain);
    return {
      domain,
      changes: imported.changes,
      warnings: imported.warnings,
      unsafeAllowed: imported.unsafeAllowed,
    };
  }

  /**
   * Replaces a domain's file (`domain edit`). It takes effect at the next start, as with xl; a
   * running domain keeps its name. With `expectedGeneration`, CONFLICT if it changed meanwhile.
   */
  async updateFile(
    ref: string,
    text: string,
    source: string,
    expectedGeneration?: number,
    actor: PolicyActor = NO_ALLOWANCE,
  ): Promise<DomainImportResult> {
    const before = await this.get(ref);
    const imported = await this.read(text, source, before, {
      ...actor,
      previouslyAllowed: this.allowedBefore(before),
    });
    if (imported.name !== before.name && isActive(before)) {
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${before.name} is running: rename it once it is stopped (etherplane shutdown ${before.name})`,
        { params: { field: "name" } },
      );
    }
    const domain = await this.store.updateDomain(
      before.id,
      this.fields(imported),
      expectedGeneration,
    );
    return {
      domain,
      changes: imported.changes,
      warnings: imported.warnings,
      unsafeAllowed: imported.unsafeAllowed,
    };
  }

  /** The settings of the stored file an admin allowed: they stay allowed while unchanged. */
  private allowedBefore(domain: DomainRecord): PolicyFinding[] {
    if (domain.allowedUnsafe.length === 0) return [];
    try {
      return checkDomainPolicy(parseXlConfig(domain.config, domain.name), this.policy).filter((f) =>
        domain.allowedUnsafe.includes(f.key),
      );
    } catch {
      // A stored file that no longer reads allows nothing: the edit needs an admin again.
      return [];
    }
  }

  /** Removes a stopped domain (its volumes stay). */
  async delete(ref: string): Promise<void> {
    const domain = await this.get(ref);
    if (isActive(domain))
      throw new EtherplaneError(
        "CONFLICT",
        `domain ${domain.name} is not stopped: etherplane destroy ${domain.name} first`,
      );
    await this.store.deleteDomain(domain.id);
  }

  private async read(
    text: string,
    source: string,
    previous: DomainRecord | undefined,
    actor: PolicyActor,
  ): Promise<ImportedDomain> {
    if (Buffer.byteLength(text) > DOMAIN_FILE_BYTES_MAX)
      throw new EtherplaneError(
        "INVALID_CONFIG",
        `${source} is ${Buffer.byteLength(text)} bytes; a domain file may hold at most ${DOMAIN_FILE_BYTES_MAX}`,
      );
    const volumes = await this.store.listVolumes();
    // A domain keeps its own MACs through an edit; any other domain's are taken.
    const own = new Set(previous?.vifs.map((v) => v.mac) ?? []);
    const used = new Set((await this.store.usedMacs()).filter((mac) => !own.has(mac)));
    return importDomainFile(text, {
      source,
      volumes,
      allocateMac: () => {
        const mac = this.allocateMac(used);
        used.add(mac);
        return mac;
      },
      normalizeMac,
      newUuid: randomUUID,
      ...(previous ? { uuid: previous.uuid } : {}),
      actor,
      policy: this.policy,
    });
  }

  /** The record's fields of an import: all of it but what import said. */
  private fields({
    changes: _changes,
    warnings: _warnings,
    unsafeAllowed: _unsafeAllowed,
    ...fields
  }: ImportedDomain) {
    return fields;
  }
}

/** A domain that runs, or should, or has a guest left on its host. */
export function isActive(domain: DomainRecord): boolean {
  return (
    domain.desiredState !== "stopped" ||
    (domain.observed !== null && domain.observed.state !== "stopped")
  );
}
