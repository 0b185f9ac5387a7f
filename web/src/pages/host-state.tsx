/**
 * A host's state as the controller gives it (lease, HA and maintenance combined), coloured; and
 * the bar of its hypervisor's memory used.
 */
import type { Host } from "../types";
import { Bar } from "./common";

/** The colour of each host state (style.css's domain-state classes). */
const LOOK: Record<NonNullable<Host["state"]> | "unknown", string> = {
  up: "running",
  maintenance: "paused",
  suspect: "paused",
  dead: "crashed",
  fenced: "crashed",
  unknown: "crashed",
};

export function HostStateBadge({ host }: { host: Host }) {
  const state = host.state ?? "unknown";
  return (
    <span class={`state state-${LOOK[state]}`} data-testid="host-state">
      {state}
    </span>
  );
}

type Hypervisor = NonNullable<NonNullable<Host["inventory"]>["hypervisor"]>;

/** The hypervisor's memory used, as a bar. */
export function MemoryBar({ host, hv }: { host: Host; hv: Hypervisor }) {
  return (
    <Bar
      used={hv.totalMemoryMiB - hv.freeMemoryMiB}
      total={hv.totalMemoryMiB}
      label={`memory used on ${host.name}`}
    />
  );
}
