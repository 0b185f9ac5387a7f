/**
 * Debian's Chromium (headless, driven by playwright-core) inside a test namespace: a wrapper
 * script runs it under `ip netns exec`, so the browser reaches only that namespace's addresses
 * (its pipes to playwright are inherited through the wrapper).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { chromium, type Browser } from "playwright-core";
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
