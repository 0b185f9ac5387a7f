/**
 * Networks per host (a bridge, optionally on an uplink, optionally an 802.1q VLAN): recorded
 * here, made by the host's agent (src/net/host-network), which reports errors back.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";
import type { NetworkRecord } from "../model.js";
import type { Store } from "../store/store.js";

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Linux interface names (net/core/dev.c dev_valid_name): 1-15 bytes, no '/', ':' or space. */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function invalid(field: string, message: string): EtherplaneError {
  return new EtherplaneError("INVALID_ARGUMENT", `${field}: ${message}`, { params: { field } });
}

export interface CreateNetworkSpec {
  hostId: string;
  name: string;
  bridge?: string;
  uplink?: string;
  vlanId?: number;
}

export class NetworkService {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  list(filter: { hostId?: string } = {}): Promise<NetworkRecord[]> {
    return this.store.listNetworks(filter);
  }

  async create(spec: CreateNetworkSpec): Promise<NetworkRecord> {
    if (!NAME.test(spec.name))
      throw invalid(
        "name",
        `"${spec.name}" is not a network name; use 1-63 of a-z, 0-9, '.', '_', '-'`,
      );
    const bridge = spec.bridge ?? spec.name;
    for (const [field, value] of [
      ["bridge", bridge],
      ["uplink", spec.uplink],
    ] as const) {
      if (value !== undefined && (!IFNAME.test(value) || value === "." || value === ".."))
        throw invalid(
          field,
          `"${value}" is not an interface name; use 1-15 of A-Z, a-z, 0-9, '.', '_', '-'`,
        );
    }
    if (spec.vlanId !== undefined) {
      if (!Number.isInteger(spec.vlanId) || spec.vlanId < 1 || spec.vlanId > 4094)
        throw invalid("vlanId", `${spec.vlanId} is not a VLAN id; use 1-4094`);
      if (spec.uplink === undefined)
        throw invalid(
          "uplink",
          "a VLAN network needs the uplink that carries the VLAN, e.g. --uplink eth1",
        );
    }
    const network: NetworkRecord = {
      id: newId("net"),
      name: spec.name,
      hostId: spec.hostId,
      bridge,
      uplink: spec.uplink ?? null,
      vlanId: spec.vlanId ?? null,
      error: null,
      createdMs: this.now(),
    };
    await this.store.createNetwork(network);
    return network;
  }

  async delete(id: string): Promise<void> {
    const network = await this.store.getNetwork(id);
    if (!network)
      throw new EtherplaneError("NOT_FOUND", `no network "${id}"; see etherplane network list`);
    const users = (await this.store.listDomains({ hostId: network.hostId })).filter(
      (d) => d.desiredState !== "stopped" && d.vifs.some((v) => v.bridge === network.bridge),
    );
    if (users.length > 0)
      throw new EtherplaneError(
        "CONFLICT",
        `network ${network.name} is used by running domains (${users.map((d) => d.name).join(", ")}); stop them first`,
      );
    await this.store.deleteNetwork(id);
  }

  /** A network by id, or by name on a host. */
  async find(ref: string, hostId?: string): Promise<NetworkRecord> {
    const byId = await this.store.getNetwork(ref);
    if (byId) return byId;
    const named = (await this.store.listNetworks(hostId ? { hostId } : {})).filter(
      (n) => n.name === ref,
    );
    if (named.length === 1 && named[0]) return named[0];
    if (named.length > 1)
      throw new EtherplaneError(
        "CONFLICT",
        `several hosts have a network "${ref}"; name the host with --host`,
      );
    throw new EtherplaneError("NOT_FOUND", `no network "${ref}"; see etherplane network list`);
  }
}
