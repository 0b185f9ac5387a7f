/**
 * What a compute agent accepts from the controller before it starts a guest. The controller
 * checked the domain at `start` and froze that spec (controller/placed-spec.ts); the agent still
 * refuses what it must never do as root whatever the controller says: attach anything but an
 * AoE volume (a host path such as /dev/sda would hand the host's own disk to a guest), or start
 * a guest without a uuid of its own (the uuid is how it later knows its guests from others').
 * Pure; the refusal is reported as the domain's error and nothing starts.
 */
import { checkAoeAddress } from "../../../aoe/codec/address.js";
import { EtherplaneError } from "../../../foundation/errors.js";
import { NIL_UUID } from "../../../hypervisor/guest-identity.js";
import type { DesiredDomain } from "../../agent-protocol.js";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function refuse(domain: DesiredDomain, why: string): EtherplaneError {
  return new EtherplaneError(
    "INVALID_ARGUMENT",
    `domain ${domain.name}: ${why}; this agent did not start it`,
    { params: { domain: domain.name } },
  );
}

export function checkDesiredDomain(domain: DesiredDomain): void {
  if (!UUID_PATTERN.test(domain.uuid) || domain.uuid === NIL_UUID)
    throw refuse(domain, `uuid ${JSON.stringify(domain.uuid)} is not a guest's own RFC 4122 uuid`);
  for (const disk of domain.disks) {
    // Typed as AoE only; the JSON on the wire may say otherwise (an older or hostile controller).
    const wire = disk as { kind?: unknown; path?: unknown; shelf?: unknown; slot?: unknown };
    if (wire.kind !== "aoe") {
      const what = typeof wire.path === "string" ? ` (${JSON.stringify(wire.path)})` : "";
      throw refuse(
        domain,
        `disk ${disk.vdev} is kind ${JSON.stringify(wire.kind)}${what}, not an AoE volume: ` +
          "agents attach only etherplane volumes (a controller sending host paths must be upgraded)",
      );
    }
    const { shelf, slot } = wire;
    if (
      typeof shelf !== "number" ||
      typeof slot !== "number" ||
      checkAoeAddress({ shelf, slot }) !== undefined
    )
      throw refuse(domain, `disk ${disk.vdev}: AoE address ${String(shelf)}.${String(slot)}`);
  }
}
