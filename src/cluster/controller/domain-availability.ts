/**
 * Per-domain availability (issue 12, "what users see"): over a window, the time the domain was
 * running while it should have been, over the time it should have been running. "Should have
 * been running": its desired state was `running` (a domain an admin stopped or paused, or that
 * shut itself down and is wanted stopped, is not counted against it). "Running": the state its
 * agent observed was `running`. Pure: the store keeps each change of the pair (wanted, up) with
 * its time (domain_state_changes, appended by the SQLite store on every domain write that changes
 * it); the caller passes those and `nowMs` (an injected clock).
 */

import type { DomainStateChange } from "../model.js";

export type { DomainStateChange };

export interface AvailabilityWindow {
  fromMs: number;
  toMs: number;
  /** Time it should have been running within the window. */
  wantedMs: number;
  /** Of that, the time it was running. */
  upMs: number;
  /** upMs / wantedMs in percent (2 decimals); null when it was never wanted running. */
  percent: number | null;
}

export interface DomainAvailability {
  last24h: AvailabilityWindow;
  /** From the oldest change the store keeps (its creation, unless older changes were pruned). */
  sinceCreated: AvailabilityWindow;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The window [fromMs, toMs) over `changes` (oldest first). Before the first change the domain is
 * neither wanted nor up; the state at fromMs is the last change at or before it.
 */
export function availabilityOver(
  changes: readonly DomainStateChange[],
  fromMs: number,
  toMs: number,
): AvailabilityWindow {
  let wantedMs = 0;
  let upMs = 0;
  let state = { wanted: false, up: false };
  let atMs = fromMs;
  for (const change of changes) {
    if (change.timeMs > atMs) {
      const spanMs = Math.min(change.timeMs, toMs) - atMs;
      if (spanMs > 0 && state.wanted) {
        wantedMs += spanMs;
        if (state.up) upMs += spanMs;
      }
      atMs = Math.max(atMs, Math.min(change.timeMs, toMs));
    }
    state = change;
  }
  if (toMs > atMs && state.wanted) {
    wantedMs += toMs - atMs;
    if (state.up) upMs += toMs - atMs;
  }
  const percent = wantedMs === 0 ? null : Math.round((upMs / wantedMs) * 10_000) / 100;
  return { fromMs, toMs, wantedMs, upMs, percent };
}

export function domainAvailability(
  changes: readonly DomainStateChange[],
  nowMs: number,
): DomainAvailability {
  const firstMs = changes[0]?.timeMs ?? nowMs;
  return {
    last24h: availabilityOver(changes, Math.max(nowMs - DAY_MS, firstMs), nowMs),
    sinceCreated: availabilityOver(changes, firstMs, nowMs),
  };
}

/** "99.98% of 23.9 h" or "-" (never wanted running). */
export function formatAvailability(window: AvailabilityWindow): string {
  if (window.percent === null) return "- (never wanted running)";
  const hours = window.wantedMs / 3_600_000;
  const span = hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.round(window.wantedMs / 1000)} s`;
  return `${window.percent.toFixed(2)}% of ${span} wanted running`;
}
