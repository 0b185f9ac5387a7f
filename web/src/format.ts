/** Pure formatting of sizes, times and states for the tables. */
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  let n = value;
  let unit = 0;
  while (Math.abs(n) >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** Sizes as typed in a form: 16M, 1G, 512K, 2T or bytes. */
export function parseSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!match) return null;
  const power = ["", "k", "m", "g", "t"].indexOf((match[2] ?? "").toLowerCase());
  const value = Math.round(Number(match[1]) * 1024 ** power);
  return value > 0 ? value : null;
}

export function ago(ms: number | null, now = Date.now()): string {
  if (ms === null) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function cpuTime(seconds: number | undefined): string {
  return seconds === undefined ? "–" : seconds.toFixed(1);
}

export function aoeAddress(shelf: number, slot: number): string {
  return `e${shelf}.${slot}`;
}
