/** A host's state as the controller gives it (lease, HA and maintenance combined), coloured. */
import type { Host } from "../types";

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
