/**
 * The web UI in a real browser: Debian's Chromium (headless, driven by playwright-core) against
 * `etherplane up` run as a process in a test namespace; the browser runs in that namespace too,
 * so it reaches the controller on the namespace's loopback only. Screenshots of the main pages
 * at 1280x800 and 390x844 go to a temporary directory (printed), and every page is checked for
 * elements overflowing their container. Set WEBUI_DOCS_SCREENSHOT=FILE to also save the
 * overview as the README's picture.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { chromiumMissing } from "../../test/lab/chromium.js";
import { fixturePath } from "../../test/lab/repo.js";
import { startUpBox, type UpBox } from "../../test/lab/up-box.js";
import { SCREEN_SIZES, WebUi } from "../../test/lab/web-ui.js";

const LISTEN = "127.0.0.1:7396";
const URL_BASE = `http://${LISTEN}`;
const WAIT_MS = 30_000;

describe("web UI in Chromium against etherplane up", { skip: chromiumMissing() }, () => {
  let box: UpBox;
  let ui: WebUi;
  let adminToken: string;
  let viewerToken: string;

  before(async () => {
    box = await startUpBox({ tag: "webui", listen: LISTEN });
    // up prints where it saved the admin token, never the token itself.
    adminToken = fs.readFileSync(box.adminTokenFile, "utf8").trim();
    assert.doesNotMatch(box.daemon.stdout, /ept_/, "up never prints a token");
    assert.match(box.daemon.stdout, new RegExp(`web UI: ${URL_BASE}/`), "up prints the UI's URL");
    const viewer = await box.cli(["token", "create", "watcher", "--role", "viewer"]);
    assert.equal(viewer.code, 0, viewer.stderr);
    viewerToken = viewer.stdout.split("\n")[0] ?? "";
    ui = await WebUi.open(box, { waitMs: WAIT_MS, shotsName: "webui-shots" });
  });

  after(async () => {
    await ui?.close();
    await box?.close();
  });

  const signIn = (token: string, size = SCREEN_SIZES[0]) => ui.signIn(token, size);
  const fetchFromPage = (page: Page, method: string, url: string, body: unknown) =>
    ui.fetchFromPage(page, method, url, body);
  const checkPage = (page: Page, name: string) => ui.shoot(page, name);

  test("a wrong token is refused and nothing is kept", async () => {
    const page = await signIn("ept_not-a-token");
    await page.getByRole("alert").filter({ hasText: "Sign-in refused" }).waitFor();
    assert.match(await page.getByRole("alert").innerText(), /unknown, revoked or expired token/);
    assert.equal(await page.evaluate<number>("sessionStorage.length"), 0);
    await page.close();
  });

  test("admin: overview, a volume created, the seed's domain imported, its file checked", async () => {
    const page = await signIn(adminToken);
    await page.getByTestId("whoami").filter({ hasText: "admin" }).waitFor();
    await page.getByTestId("host").filter({ hasText: "box1" }).waitFor();
    await page.getByTestId("pool").filter({ hasText: "default" }).waitFor();
    await page.getByText("live", { exact: true }).waitFor();
    assert.equal(
      await page.evaluate<string | null>('sessionStorage.getItem("etherplane.token")'),
      adminToken,
      "the token is kept for this tab's session",
    );
    await checkPage(page, "overview");
    if (process.env["WEBUI_DOCS_SCREENSHOT"])
      await page.screenshot({ path: process.env["WEBUI_DOCS_SCREENSHOT"] });

    await page.getByRole("navigation").getByRole("link", { name: "Volumes" }).click();
    await page.getByLabel("Name").fill("web1");
    await page.getByLabel("Size").fill("16M");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByTestId("task").filter({ hasText: "volume" }).first().waitFor();
    // The change feed, not a reload, brings the volume's ready state.
    await page
      .getByTestId("volume-list")
      .locator("tr", { hasText: "web1" })
      .locator(".state-ready")
      .waitFor();
    await checkPage(page, "volumes");

    await page.getByRole("navigation").getByRole("link", { name: "Domains" }).click();
    const seed = fs.readFileSync(fixturePath("xl-cfg", "seed-noc-grid.cfg"), "utf8");
    await page.getByLabel("or paste it (xl.cfg syntax)").fill(seed);
    await page.getByRole("button", { name: "Import" }).click();
    await page.getByRole("status").filter({ hasText: "imported noc.grid" }).waitFor();
    const row = page.getByTestId("domain-list").locator("tr", { hasText: "noc.grid" });
    await row.waitFor();
    assert.match(await row.innerText(), /noc\.grid\s+–\s+256\s+1\s+stopped/);
    await page.getByLabel("Filter").fill("nothing-like-this");
    await page.getByText("Nothing matches the filter.").waitFor();
    await page.getByLabel("Filter").fill("noc");
    await checkPage(page, "domains");

    await page.getByRole("link", { name: "noc.grid" }).click();
    await page.getByRole("button", { name: "Start" }).waitFor();
    await page.getByRole("button", { name: "Destroy" }).waitFor();
    const editor = page.getByRole("textbox", { name: "xl.cfg" });
    assert.match(await editor.inputValue(), /name = "noc.grid"/);
    await checkPage(page, "domain");
    // A refusal is shown at its line: line 4 made invalid.
    const lines = seed.split("\n");
    lines[3] = "memory = [ 256";
    await editor.fill(lines.join("\n"));
    await page.getByRole("button", { name: "Save" }).click();
    const error = page.getByTestId("cfg-error");
    await error.waitFor();
    assert.match(await error.innerText(), /line \d+/i);
    const bad = await page.locator(".gutter .bad").innerText();
    assert.match(await error.innerText(), new RegExp(`^Line ${bad.trim()}:`));
    // A console needs a running domain: the ticket is refused with what to do.
    const refused = await fetchFromPage(page, "POST", "/api/v1/console-tickets", {
      domain: "noc.grid",
    });
    assert.equal(refused.status, 409);
    assert.match(refused.body, /not running: start it first/);
    await page.close();
  });

  test("a console WebSocket without a valid ticket is closed with the API's refusal", async () => {
    const page = await signIn(adminToken);
    await page.getByTestId("whoami").waitFor();
    const closed = await page.evaluate<{
      code: number;
      reason: string;
    }>(`new Promise((resolve) => {
      const ws = new WebSocket("ws://" + location.host + "/api/v1/console/ws?ticket=ect_forged");
      ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
    })`);
    assert.equal(closed.code, 4401);
    assert.match(closed.reason, /console ticket/);
    await page.close();
  });

  test("viewer: no action buttons anywhere, and a forced request is refused (403)", async () => {
    const page = await signIn(viewerToken, SCREEN_SIZES[1]);
    await page.getByTestId("whoami").filter({ hasText: "viewer" }).waitFor();
    await page.getByTestId("pool").filter({ hasText: "default" }).waitFor();
    await page.getByRole("navigation").getByRole("link", { name: "Volumes" }).click();
    await page.getByTestId("volume-list").locator("tr", { hasText: "web1" }).waitFor();
    assert.equal(
      await page.getByRole("button", { name: /create|delete|snapshot|clone|resize/i }).count(),
      0,
    );
    await page.getByRole("navigation").getByRole("link", { name: "Domains" }).click();
    await page.getByRole("link", { name: "noc.grid" }).click();
    await page.getByRole("textbox", { name: "xl.cfg" }).waitFor();
    assert.equal(await page.getByRole("textbox", { name: "xl.cfg" }).getAttribute("readonly"), "");
    assert.equal(
      await page.locator("main button").count(),
      0,
      "no buttons on a viewer's domain page",
    );
    await page.getByRole("navigation").getByRole("link", { name: "Domains" }).click();
    await page.getByTestId("domain-list").waitFor();
    assert.equal(await page.getByRole("button", { name: "Import" }).count(), 0);
    const forced = await fetchFromPage(page, "POST", "/api/v1/volumes", {
      name: "sneaky",
      sizeBytes: 1048576,
    });
    assert.equal(forced.status, 403);
    assert.match(
      (JSON.parse(forced.body) as { error: { message: string } }).error.message,
      /viewer token "watcher" may not do this/,
    );
    await checkPage(page, "domains-viewer");
    await page.close();
  });

  test("the UI's files: a strict content security policy; /api stays the API (JSON, token first)", async () => {
    const page = await ui.browser.newPage();
    const response = await page.goto(`${URL_BASE}/`);
    assert.ok(response);
    assert.match(response.headers()["content-security-policy"] ?? "", /default-src 'self'/);
    const missing = await page.goto(`${URL_BASE}/api/v1/nothing`);
    assert.equal(missing?.status(), 401, "the API's paths are not the UI's: a token first");
    assert.match((await missing?.text()) ?? "", /"code":"UNAUTHENTICATED"/);
    await page.close();
  });
});
