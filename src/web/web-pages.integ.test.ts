/**
 * The web UI's other pages in Chromium against `etherplane up` in a namespace (as
 * web-ui.integ.test.ts): volume actions (export/unexport, allow/deny, a clone's progress) as the
 * API's roles allow them; hosts with their bars and charts; networks, tasks; tokens and the
 * audit log for admins; a revoked or expired token back at sign-in with a message. A viewer sees
 * none of the actions and an operator does not get the admin's.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { chromiumMissing } from "../../test/lab/chromium.js";
import { startUpBox, type UpBox } from "../../test/lab/up-box.js";
import { WebUi } from "../../test/lab/web-ui.js";

const LISTEN = "127.0.0.1:7397";
const URL_BASE = `http://${LISTEN}`;
const WAIT_MS = 60_000;
const MAC = "02:00:5e:00:00:0a";

describe("web UI pages in Chromium against etherplane up", { skip: chromiumMissing() }, () => {
  let box: UpBox;
  let ui: WebUi;
  let adminToken: string;
  const tokens: Record<"viewer" | "operator", string> = { viewer: "", operator: "" };

  before(async () => {
    box = await startUpBox({ tag: "webpg", listen: LISTEN });
    adminToken = fs.readFileSync(box.adminTokenFile, "utf8").trim();
    for (const role of ["viewer", "operator"] as const) {
      const made = await box.cli(["token", "create", `a-${role}`, "--role", role]);
      assert.equal(made.code, 0, made.stderr);
      tokens[role] = made.stdout.split("\n")[0] ?? "";
    }
    const volume = await box.cli(["volume", "create", "pg1", "--size", "8M"]);
    assert.equal(volume.code, 0, volume.stderr);
    ui = await WebUi.open(box, { waitMs: WAIT_MS, shotsName: "webui-pages" });
  });

  after(async () => {
    await ui?.close();
    await box?.close();
  });

  async function signIn(token: string): Promise<Page> {
    const page = await ui.signIn(token);
    await page.getByTestId("whoami").waitFor();
    return page;
  }

  const nav = (page: Page, name: string) =>
    page.getByRole("navigation").getByRole("link", { name, exact: true }).click();
  const fetchFromPage = (page: Page, method: string, url: string, body?: unknown) =>
    ui.fetchFromPage(page, method, url, body);
  const shoot = (page: Page, name: string) => ui.shoot(page, name);

  /** Waits until the Access cell of `volume` matches `pattern`; fails saying what it showed. */
  async function accessBecomes(page: Page, volume: string, pattern: RegExp): Promise<void> {
    const cell = page
      .getByTestId("volume-list")
      .locator("tr", { has: page.getByRole("cell", { name: volume, exact: true }) })
      .locator("td")
      .nth(7);
    const deadline = Date.now() + WAIT_MS;
    let seen = "";
    while (!pattern.test((seen = await cell.innerText()))) {
      if (Date.now() > deadline) {
        const alerts = await page.getByRole("alert").allInnerTexts();
        assert.fail(`access of ${volume}: ${seen}, not ${pattern}; alerts: ${alerts.join(" | ")}`);
      }
      await page.waitForTimeout(200);
    }
  }

  test("admin: unexport, export, allow and deny a MAC and everyone, a clone's progress", async () => {
    const page = await signIn(adminToken);
    page.on(
      "dialog",
      (dialog) => void (dialog.type() === "prompt" ? dialog.accept("pg1-copy") : dialog.accept()),
    );
    await nav(page, "Volumes");
    const row = page.getByTestId("volume-list").locator("tr", { hasText: "pg1" }).first();
    await row.locator(".state-ready").waitFor();
    await page.getByRole("button", { name: "unexport pg1" }).click();
    await accessBecomes(page, "pg1", /^not exported$/);
    await page.getByRole("button", { name: "export pg1", exact: true }).click();
    await accessBecomes(page, "pg1", /^nobody$/);

    await page.getByRole("button", { name: "access pg1" }).click();
    const panel = page.getByTestId("access-panel");
    await panel.getByLabel("MACs or hosts").fill("not-a-host");
    await panel.getByRole("button", { name: "Allow" }).click();
    await panel.getByRole("alert").filter({ hasText: "not a MAC" }).waitFor();
    await panel.getByLabel("MACs or hosts").fill(MAC);
    await panel.getByRole("button", { name: "Allow" }).click();
    await accessBecomes(page, "pg1", new RegExp(MAC));
    await panel.getByLabel("everyone on the SAN").check();
    await panel.getByRole("button", { name: "Allow" }).click();
    await accessBecomes(page, "pg1", /^everyone$/);
    await panel.getByLabel("everyone on the SAN").check();
    await panel.getByRole("button", { name: "Deny" }).click();
    await accessBecomes(page, "pg1", new RegExp(MAC));
    await panel.getByLabel("MACs or hosts").fill(MAC);
    await panel.getByRole("button", { name: "Deny" }).click();
    await accessBecomes(page, "pg1", /^nobody$/);
    await shoot(page, "volumes-access");

    // A clone is a copy: its task shows its progress until it succeeds.
    await page.getByRole("button", { name: "clone pg1" }).click();
    const task = page.getByTestId("task").filter({ hasText: "clone" });
    await task.locator("progress").waitFor();
    await task.filter({ hasText: "succeeded" }).waitFor();
    assert.equal(await task.locator("progress").getAttribute("value"), "100");
    await page
      .getByTestId("volume-list")
      .locator("tr", { hasText: "pg1-copy" })
      .locator(".state-ready")
      .waitFor();
    await page.close();
  });

  test("operator: volume actions but not everyone, no tokens nor audit; refused by the API too", async () => {
    const page = await signIn(tokens.operator);
    await page.getByTestId("whoami").filter({ hasText: "operator" }).waitFor();
    assert.equal(
      await page.getByRole("navigation").getByRole("link", { name: "Tokens" }).count(),
      0,
    );
    assert.equal(
      await page.getByRole("navigation").getByRole("link", { name: "Audit" }).count(),
      0,
    );
    await nav(page, "Volumes");
    await page.getByRole("button", { name: "access pg1", exact: true }).click();
    const panel = page.getByTestId("access-panel");
    await panel.getByRole("button", { name: "Allow" }).waitFor();
    assert.equal(await panel.getByLabel("everyone on the SAN").count(), 0);
    const forced = await fetchFromPage(page, "POST", "/api/v1/volumes/pg1/allow", {
      everyone: true,
    });
    assert.equal(forced.status, 403, forced.body);
    await nav(page, "Networks");
    await page.getByTestId("network-list").waitFor();
    assert.equal(await page.getByRole("button", { name: "Create network" }).count(), 0);
    await page.goto(`${URL_BASE}/#/tokens`);
    await page.getByText("Only an admin token sees the tokens.").waitFor();
    await page.close();
  });

  test("hosts: memory and pool bars, charts from the agent's reports; tasks by state", async () => {
    const page = await signIn(tokens.viewer);
    await nav(page, "Hosts");
    const card = page.getByTestId("host-card").filter({ hasText: "box1" });
    await card.getByRole("meter", { name: /pool default used on box1/ }).waitFor();
    // The state is the API's (lease and maintenance combined), printed as it comes.
    await card.getByTestId("host-state").filter({ hasText: /^up$/ }).waitFor();
    // Two reports make a line (a sample at most every 5 s): reload until the chart is there.
    const deadline = Date.now() + WAIT_MS;
    while ((await card.getByTestId("sparkline").count()) === 0) {
      assert.ok(Date.now() < deadline, "no chart after a minute of agent reports");
      await page.waitForTimeout(1000);
      await page.reload();
      await card.waitFor();
    }
    const chart = card.getByRole("img", { name: /pool space used: .+ \(\d+ samples\)/ });
    await chart.waitFor();
    assert.match((await chart.locator("polyline").getAttribute("points")) ?? "", /\d+,\d+.* \d/);
    const series = await fetchFromPage(page, "GET", "/api/v1/metrics/hosts");
    assert.equal(series.status, 200);
    const hosts = (JSON.parse(series.body) as { hosts: Array<{ samples: unknown[] }> }).hosts;
    assert.ok((hosts[0]?.samples.length ?? 0) >= 2, series.body);
    await shoot(page, "hosts");

    await nav(page, "Tasks");
    await page.getByTestId("task-list").locator("tr", { hasText: "succeeded" }).first().waitFor();
    await page.getByLabel("State").selectOption("failed");
    await page.getByText("No tasks failed.").waitFor();
    await page.getByLabel("State").selectOption("succeeded");
    await page.getByTestId("task-list").locator("tbody .task-state").first().waitFor();
    const states = await page.getByTestId("task-list").locator("tbody .task-state").allInnerTexts();
    assert.ok(
      states.every((s) => s === "succeeded"),
      states.join(","),
    );
    await shoot(page, "tasks");
    // A viewer has no action button on these pages.
    for (const where of ["Hosts", "Networks", "Tasks", "Volumes"]) {
      await nav(page, where);
      assert.equal(
        await page
          .getByRole("button", { name: /create|delete|revoke|allow|deny|export|access/i })
          .count(),
        0,
        where,
      );
    }
    await page.close();
  });

  test("admin: networks made and deleted, tokens made and revoked, the audit log filtered", async () => {
    const page = await signIn(adminToken);
    page.on("dialog", (dialog) => void dialog.accept());
    await nav(page, "Networks");
    await page.getByLabel("Network name").fill("webnet");
    await page.getByRole("button", { name: "Create network" }).click();
    const net = page.getByTestId("network-list").locator("tr", { hasText: "webnet" });
    await net.waitFor();
    await page.getByLabel("VLAN (optional)").fill("5000");
    await page.getByLabel("Network name").fill("badvlan");
    await page.getByRole("button", { name: "Create network" }).click();
    await page.getByRole("alert").filter({ hasText: "1 to 4094" }).waitFor();
    await page.getByRole("button", { name: "delete network webnet on box1" }).click();
    await net.waitFor({ state: "detached" });

    // A token made here signs in elsewhere; revoked here, that session returns to sign-in.
    await nav(page, "Tokens");
    await page.getByLabel("Token name").fill("short-lived");
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = await page.getByLabel("secret of short-lived").inputValue();
    assert.match(secret, /^ept_/);
    const other = await signIn(secret);
    await other.getByTestId("whoami").filter({ hasText: "short-lived" }).waitFor();
    await page.getByRole("button", { name: "revoke short-lived" }).click();
    await page
      .getByTestId("token-list")
      .locator("tr", { hasText: "short-lived" })
      .filter({ hasText: "revoked" })
      .waitFor();
    // Its next call is refused: the change feed's may come first and sign it out by itself, else
    // moving to another page makes one. (A reload here raced the feed: a tab signed out just
    // before the reload came back at a bare sign-in, without the notice.)
    const notice = other.getByTestId("signed-out");
    const poke = other
      .getByRole("navigation")
      .getByRole("link", { name: "Volumes", exact: true })
      .click({ timeout: 5_000 })
      .catch(() => undefined);
    await notice.waitFor();
    await poke;
    assert.match(await notice.innerText(), /session ended: .*Sign in again/);
    assert.equal(await other.evaluate<number>("sessionStorage.length"), 0);
    await other.getByLabel("API token").waitFor();
    await other.close();
    await shoot(page, "tokens");

    await nav(page, "Audit");
    const list = page.getByTestId("audit-list");
    await list.locator("tr", { hasText: "short-lived" }).first().waitFor();
    await page.getByLabel("Filter").fill("webnet");
    await list.locator("tbody tr").first().waitFor();
    for (const text of await list.locator("tbody tr").allInnerTexts()) assert.match(text, /webnet/);
    await page.getByLabel("Filter").fill("");
    await page.getByLabel("Result").selectOption("error");
    for (const status of await list.locator("tbody td.num").allInnerTexts())
      assert.ok(Number(status) >= 400, `an ok row among errors: ${status}`);
    await page.getByLabel("Filter").fill("nothing-like-this");
    await page.getByText("Nothing matches the filter.").waitFor();
    await shoot(page, "audit");
    await page.close();
  });

  test("a reply that does not fit the API's schema is shown as an error, not rendered", async () => {
    const page = await signIn(adminToken);
    await page.getByTestId("host").filter({ hasText: "box1" }).waitFor();
    // As a controller of another version, or a proxy, might answer: a volume whose size is text,
    // and host samples whose time is missing.
    await page.route(
      (url) => url.pathname === "/api/v1/volumes",
      (route) =>
        route.request().method() === "GET"
          ? route.fulfill({
              status: 200,
              contentType: "application/json",
              body: JSON.stringify({
                volumes: [{ id: "v-odd", name: "odd-volume", sizeBytes: "huge" }],
                nextCursor: null,
              }),
            })
          : route.continue(),
    );
    await page.route(
      (url) => url.pathname === "/api/v1/metrics/hosts",
      (route) =>
        route.fulfill({
          status: 200,
          contentType: "application/json",
          body: JSON.stringify({ hosts: [{ hostId: "h-odd", samples: [{ cpuLoad: 1 }] }] }),
        }),
    );
    await page.reload();
    const banner = page.getByRole("alert").filter({ hasText: "GET /api/v1/volumes" });
    await banner.waitFor();
    assert.match(await banner.innerText(), /does not fit this page \(volumes\[0\]\.\w+: /);
    assert.match(await banner.innerText(), /Reload the page/);
    await nav(page, "Volumes");
    await page.getByRole("heading", { name: "Volumes" }).waitFor();
    assert.equal(await page.getByText("odd-volume").count(), 0, "the odd reply is not rendered");
    await nav(page, "Hosts");
    const metrics = page.getByRole("alert").filter({ hasText: "GET /api/v1/metrics/hosts" });
    await metrics.waitFor();
    assert.match(await metrics.innerText(), /hosts\[0\]\.samples\[0\]\.\w+: /);
    await page.close();
  });

  test("a token that expires while signed in returns to sign-in, saying it expired", async () => {
    const admin = await signIn(adminToken);
    const made = await fetchFromPage(admin, "POST", "/api/v1/tokens", {
      name: "brief",
      role: "viewer",
      expiresInSeconds: 20,
    });
    assert.equal(made.status, 201, made.body);
    await admin.close();
    const page = await signIn((JSON.parse(made.body) as { secret: string }).secret);
    await page.getByTestId("whoami").filter({ hasText: "until" }).waitFor();
    const notice = page.getByTestId("signed-out");
    await notice.waitFor({ timeout: WAIT_MS });
    assert.match(await notice.innerText(), /expired/);
    assert.equal(await page.evaluate<number>("sessionStorage.length"), 0);
    await page.close();
  });
});
