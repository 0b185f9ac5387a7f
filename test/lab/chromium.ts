/**
 * Debian's Chromium (headless, driven by playwright-core) inside a test namespace: a wrapper
 * script runs it under `ip netns exec`, so the browser reaches only that namespace's addresses
 * (its pipes to playwright are inherited through the wrapper).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import type { Namespace } from "./netns.js";

export const CHROMIUM = "/usr/bin/chromium";
const LAUNCH_MS_MAX = 120_000;

/** Why browser tests cannot run here, or false when they can (for `describe(..., { skip })`). */
export function chromiumMissing(): string | false {
  return !fs.existsSync(CHROMIUM) && `no ${CHROMIUM}: apt-get install chromium`;
}

/** Launches Chromium in `ns`; its wrapper script goes to `dir`. Close the browser when done. */
export async function launchChromiumIn(ns: Namespace, dir: string): Promise<Browser> {
  const wrapper = path.join(dir, "chromium-in-ns");
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.name} ${CHROMIUM} "$@"\n`, {
    mode: 0o755,
  });
  return chromium.launch({
    executablePath: wrapper,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    timeout: LAUNCH_MS_MAX,
  });
}

/**
 * Elements sticking out of their parent (outside scrolling containers), and page-wide scroll.
 * Browser code as a string: this file is type-checked without the DOM's types.
 */
const OVERFLOWS = `(() => {
    const found = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth + 1)
      found.push("the page scrolls sideways: " + doc.scrollWidth + " > " + window.innerWidth);
    const clipped = (el) => {
      for (let e = el; e; e = e.parentElement)
        if (getComputedStyle(e).overflowX !== "visible") return true;
      return false;
    };
    const name = (e) => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).trim().replace(/\\s+/g, ".") : "");
    for (const el of document.body.querySelectorAll("*")) {
      const parent = el.parentElement;
      if (!parent || clipped(parent)) continue;
      const r = el.getBoundingClientRect();
      const p = parent.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.right > p.right + 1 || r.left < p.left - 1)
        found.push(name(el) + " (" + Math.round(r.left) + ".." + Math.round(r.right) + ") out of " +
          name(parent) + " (" + Math.round(p.left) + ".." + Math.round(p.right) + ")");
    }
    return found;
  })()`;

/** What sticks out on `page` now: none is the visual check at each screen size. */
export function overflows(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(OVERFLOWS);
}
