/**
 * The web UI as its browser tests drive it: Chromium in the controller's namespace
 * (chromium.ts), pages signed in with a token, calls made with a page's own token, and
 * screenshots at a desktop and a phone size (to a temporary directory, printed) with the check
 * that nothing sticks out of its container at either.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromiumIn, overflows } from "./chromium.js";
import type { UpBox } from "./up-box.js";

export type ScreenSize = { width: number; height: number };
/** A desktop and a phone. */
export const SCREEN_SIZES: readonly [ScreenSize, ScreenSize] = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

export class WebUi {
  private constructor(
    readonly browser: Browser,
    /** The controller's URL, no trailing slash. */
    readonly baseUrl: string,
    /** Where screenshots go. */
    readonly shots: string,
    private readonly waitMs: number,
  ) {}

  /** Launches the browser in `box`'s namespace, for its web UI; close it when done. */
  static async open(
    box: UpBox,
    options: {
      /** Each page's default timeout. */
      waitMs: number;
      /** Names the screenshot directory (ep-NAME-XXXX under the system's temporary one). */
      shotsName: string;
    },
  ): Promise<WebUi> {
    const browser = await launchChromiumIn(box.link.targetNs, box.link.dir);
    const shots = fs.mkdtempSync(path.join(os.tmpdir(), `ep-${options.shotsName}-`));
    process.stderr.write(`web UI screenshots: ${shots}\n`);
    return new WebUi(browser, box.url, shots, options.waitMs);
  }

  /** A new page at the sign-in form, `token` entered and sent (whether it is taken is the caller's to check). */
  async signIn(token: string, size: ScreenSize = SCREEN_SIZES[0]): Promise<Page> {
    const page = await this.browser.newPage({ viewport: size });
    page.setDefaultTimeout(this.waitMs);
    await page.goto(`${this.baseUrl}/`);
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    return page;
  }

  /** A call with the page's own token (from sessionStorage), as a forced request would be. */
  fetchFromPage(
    page: Page,
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: string }> {
    return page.evaluate<{ status: number; body: string }>(`(async () => {
      const r = await fetch(${JSON.stringify(url)}, {
        method: ${JSON.stringify(method)},
        headers: {
          authorization: "Bearer " + sessionStorage.getItem("etherplane.token"),
          "content-type": "application/json",
        },
        ${body === undefined ? "" : `body: ${JSON.stringify(JSON.stringify(body))},`}
      });
      return { status: r.status, body: await r.text() };
    })()`);
  }

  /** Screenshots at both sizes, and nothing sticking out of its container at either. */
  async shoot(page: Page, name: string): Promise<void> {
    for (const size of SCREEN_SIZES) {
      await page.setViewportSize(size);
      await page.screenshot({
        path: path.join(this.shots, `${name}-${size.width}x${size.height}.png`),
        fullPage: true,
      });
      assert.deepEqual(await overflows(page), [], `${name} at ${size.width}x${size.height}`);
    }
    await page.setViewportSize(SCREEN_SIZES[0]);
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}
