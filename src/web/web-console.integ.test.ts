/**
 * The browser console against a real guest (QEMU/TCG, a minute or two): a controller, a storage
 * host and a compute host on the qemu driver (ClusterLab, each in its own namespace); a busybox
 * root filesystem written into an AoE volume; the domain imported, then started from the web UI
 * in Chromium (in the controller's namespace); the host page charts its guests' CPU, the
 * networks page lists its bridge. Its console page shows the boot history (the
 * kernel's messages, sent before anything live), takes a typed command and shows the guest's
 * answer, fits a smaller window, and closes cleanly: leaving the page closes the WebSocket with
 * 1000, and more consoles than a token may hold at once open one after another (a session left
 * behind would refuse the last). Shut down from the browser, the domain stops.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { DomainRecord } from "../cluster/model.js";
import { chromiumMissing, launchChromiumIn } from "../../test/lab/chromium.js";
import type { ClusterLab, StorageHost } from "../../test/lab/cluster-lab.js";
import { bootMarkerScript } from "../../test/lab/domain-guest/boot-markers.js";
import { domainConfig } from "../../test/lab/domain-guest/domain-config.js";
import { domainGuestKit } from "../../test/lab/domain-guest/index.js";
import { guestVolume } from "../../test/lab/guest-volume.js";
import { BRIDGE, qemuCluster } from "../../test/lab/qemu-cluster.js";

const BOOT_MS_MAX = 180_000;
const WAIT_MS = 60_000;
/** console-broker.ts: CONSOLE_LIMITS_DEFAULT.sessionsPerOwnerMax. */
const SESSIONS_PER_OWNER_MAX = 4;

describe("the web console of a real guest (QEMU/TCG)", { skip: chromiumMissing() }, () => {
  let lab: ClusterLab;
  let compute: StorageHost;
  let browser: Browser;

  before(async () => {
    const kit = await domainGuestKit();
    const cluster = await qemuCluster({ tag: "wcon", computeHosts: ["cmp1"] });
    lab = cluster.lab;
    const [cmp1] = cluster.computes;
    assert.ok(cmp1);
    compute = cmp1;
    const { device } = await guestVolume(cluster, {
      name: "web-root",
      writer: compute,
      initScript: bootMarkerScript({ poweroffOnFirstBoot: false }),
    });
    const network = await lab.call("POST", "/api/v1/networks", { host: "cmp1", name: BRIDGE });
    assert.equal(network.status, 201, JSON.stringify(network.body));
    const domain = await lab.call("POST", "/api/v1/domains", {
      config: domainConfig({
        name: "webguest",
        kernel: lab.bootFile(compute, kit.kernel),
        ramdisk: lab.bootFile(compute, kit.initrd),
        memoryMiB: 192,
        device,
        bridge: BRIDGE,
        actions: ["on_poweroff = 'destroy'"],
      }),
      source: "webguest.cfg",
    });
    assert.equal(domain.status, 201, JSON.stringify(domain.body));
    browser = await launchChromiumIn(lab.controllerNamespace, lab.dir);
  });

  after(async () => {
    await browser?.close();
    await lab?.close();
  });

  async function signIn(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(WAIT_MS);
    // Destructive actions ask first; the test says yes.
    page.on("dialog", (dialog) => void dialog.accept());
    await page.goto(`${lab.controllerUrl}/`);
    await page.getByLabel("API token").fill(lab.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("whoami").filter({ hasText: "admin" }).waitFor();
    return page;
  }

  /** The text on the terminal's screen now (xterm.js draws rows as DOM elements). */
  const screen = (page: Page) => page.locator(".xterm-rows").innerText();

  test("start, console (history, input, resize, clean close), shut down", async () => {
    const page = await signIn();
    await page.goto(`${lab.controllerUrl}/#/domains/webguest`);
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByTestId("task").filter({ hasText: /start/ }).waitFor();
    await page.getByRole("heading", { name: /webguest\s+running/ }).waitFor({ timeout: WAIT_MS });
    await page.getByRole("navigation").getByRole("link", { name: "Domains" }).click();
    await page
      .getByTestId("domain-list")
      .locator("tr", { hasText: "webguest" })
      .locator(".state-running")
      .waitFor();

    // Let the guest finish booting, so that the console's history holds the whole boot.
    await lab.waitFor("the guest's boot", BOOT_MS_MAX, async () => {
      const reply = await lab.call<{ domain: DomainRecord }>("GET", "/api/v1/domains/webguest");
      return reply.body.domain.observed?.state === "running" ? null : "not running";
    });
    // The host's chart of its guests' CPU (samples from the agent's reports, two at least).
    await page.getByRole("navigation").getByRole("link", { name: "Hosts" }).click();
    const card = page.getByTestId("host-card").filter({ hasText: "cmp1" });
    await card.getByRole("meter", { name: "memory used on cmp1" }).waitFor();
    const cpu = card.getByRole("img", { name: /guests' CPU: [\d.]+ vCPU \(\d+ samples\)/ });
    await lab.waitFor("a chart of the guests' CPU", WAIT_MS, async () => {
      if ((await cpu.count()) > 0) return null;
      await page.reload();
      await card.waitFor();
      return "not yet";
    });
    // The storage host's chart of the guest's AoE volume (its export's bytes read and written,
    // from the storage agent's reports: the guest read its root from it while booting).
    const storageCard = page.getByTestId("host-card").filter({ hasText: "sto1" });
    const aoe = storageCard.getByRole("img", {
      name: /AoE web-root read\+write: [\d.]+ [KMGT]?i?B\/s \(\d+ samples\)/,
    });
    await lab.waitFor("a chart of the volume's AoE throughput", WAIT_MS, async () => {
      if ((await aoe.count()) > 0) return null;
      await page.reload();
      await storageCard.waitFor();
      return "not yet";
    });
    await page.getByRole("navigation").getByRole("link", { name: "Networks" }).click();
    const bridge = page.getByTestId("network-list").locator("tr", { hasText: "xenbr1" });
    await bridge.filter({ hasText: "cmp1" }).filter({ hasText: "ok" }).waitFor();

    const bytes: string[] = [];
    const closes: number[] = [];
    page.on("websocket", (ws) => {
      ws.on("framereceived", ({ payload }) =>
        bytes.push(typeof payload === "string" ? payload : payload.toString("latin1")),
      );
      ws.on("close", () => closes.push(Date.now()));
    });
    await page.goto(`${lab.controllerUrl}/#/domains/webguest`);
    await page.getByRole("link", { name: "Console" }).click();
    await page.getByTestId("console-status").filter({ hasText: "connected" }).waitFor();
    await lab.waitFor("the boot history on the console", BOOT_MS_MAX, () =>
      /EP-GUEST READY webguest/.test(bytes.join("")) ? null : bytes.join("").slice(-200),
    );
    assert.match(bytes.join(""), /Linux version/, "the history starts with the kernel's boot");
    assert.match(bytes.join(""), /EP-BOOT 1/, "and holds the root filesystem's init");

    // Typed into the terminal: the guest runs it and its answer is on the screen.
    const token = `ep${process.pid}x${Date.now()}`;
    await page.getByTestId("terminal").click();
    await page.keyboard.type(`echo ${token}-typed | tr a-z A-Z\n`);
    await lab.waitFor("the guest's answer on screen", WAIT_MS, async () =>
      (await screen(page)).includes(`${token}-TYPED`.toUpperCase())
        ? null
        : (await screen(page)).slice(-300),
    );

    // A phone-sized window: the terminal fits it (fewer columns) and still takes input.
    const wide = await page.getByTestId("terminal").getAttribute("data-size");
    assert.match(wide ?? "", /^\d+x\d+$/);
    await page.setViewportSize({ width: 390, height: 844 });
    await lab.waitFor("the terminal to fit the narrow window", WAIT_MS, async () => {
      const narrow = (await page.getByTestId("terminal").getAttribute("data-size")) ?? "";
      return Number(narrow.split("x")[0]) < Number((wide ?? "").split("x")[0])
        ? null
        : `${wide} -> ${narrow}`;
    });
    const cols = Number(
      ((await page.getByTestId("terminal").getAttribute("data-size")) ?? "").split("x")[0],
    );
    const widest = await page.evaluate<number>(
      `Math.max(...[...document.querySelectorAll(".xterm-rows > div")].map((r) => r.textContent.length))`,
    );
    assert.ok(widest <= cols, `rows of at most ${cols} characters, saw ${widest}`);
    await page.getByTestId("terminal").click();
    await page.keyboard.type(`echo ${token}-narrow | tr a-z A-Z\n`);
    await lab.waitFor("the answer in the narrow terminal", WAIT_MS, async () =>
      (await screen(page)).includes(`${token}-NARROW`.toUpperCase()) ? null : "not yet",
    );
    await page.setViewportSize({ width: 1280, height: 800 });

    // Leaving closes the socket; sessions are given back, so more consoles than a token may
    // hold at once open one after another.
    await page.getByRole("link", { name: "close" }).click();
    await page.getByRole("button", { name: "Start" }).waitFor();
    await lab.waitFor("the console's socket to close", WAIT_MS, () =>
      closes.length === 1 ? null : `${closes.length} closed`,
    );
    for (let i = 0; i < SESSIONS_PER_OWNER_MAX; i++) {
      await lab.waitFor(`console ${i + 2} to open`, WAIT_MS, async () => {
        await page.goto(`${lab.controllerUrl}/#/domains/webguest/console`);
        const status = page.getByTestId("console-status");
        await status.filter({ hasNotText: "connecting" }).waitFor();
        const text = await status.innerText();
        // A close still on its way to the controller: tried again; a leaked session stays.
        if (text !== "connected") {
          await page.goto(`${lab.controllerUrl}/#/domains/webguest`);
          return text;
        }
        return null;
      });
      await page.goto(`${lab.controllerUrl}/#/domains/webguest`);
    }

    // Migrate (confirmed), with placement choosing: this cluster has one compute host, so the
    // controller refuses before anything moves, and the page shows its reason.
    await page.getByRole("button", { name: "Migrate" }).click();
    await page
      .getByRole("alert")
      .filter({ hasText: /no host can run it|cannot|runs there now/ })
      .waitFor();
    const stillThere = await lab.call<{ domain: DomainRecord }>("GET", "/api/v1/domains/webguest");
    assert.equal(
      stillThere.body.domain.observed?.state,
      "running",
      "a refused migration moves nothing",
    );

    // Shut down from the browser (confirmed): the guest powers off.
    await page.getByRole("button", { name: "Shut down" }).click();
    await page
      .getByTestId("task")
      .filter({ hasText: /shutdown/ })
      .waitFor();
    await page
      .getByRole("heading", { name: /webguest\s+stopped/ })
      .waitFor({ timeout: BOOT_MS_MAX });
    const reply = await lab.call<{ domain: DomainRecord }>("GET", "/api/v1/domains/webguest");
    assert.equal(reply.body.domain.observed?.lastExit?.reason, "poweroff");
    await page.close();
  });
});
