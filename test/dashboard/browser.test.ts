/**
 * The dashboard in a real browser: Debian's headless Chromium driven by playwright-core (no browser
 * download), against the real dashboard server over a schema seeded by running real orchestrations
 * (completed, failed, waiting for an event, continued as new; with activities, a timer, a
 * sub-orchestration, custom status and KV). With SAVE_SCREENSHOTS=1 the screenshots go to
 * docs/images/ (the README shows one); otherwise to a temp directory.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningDashboard, startDashboard } from "../../src/dashboard/server.ts";
import { createHarness, type Harness, waitForHistory } from "../runtime/harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const UI_TIMEOUT = 20_000; // generous: the machine is shared and the page polls every 2 s
const QUICK_COUNT = 5;

let h: Harness;
let browser: Browser;
let page: Page;
let dashboard: TestDashboard;
let readOnlyDashboard: TestDashboard;

interface TestDashboard {
  /** Base URL without the trailing slash, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Opening it sets the token cookie, as the link `pg-durable dashboard` prints does. */
  signInUrl: string;
  close(): Promise<void>;
}

/** The real dashboard server on a free port, with a token (so the page runs on the cookie). */
async function startTestDashboard(harness: Harness, options: { readOnly: boolean }): Promise<TestDashboard> {
  const token = randomBytes(12).toString("hex");
  const running: RunningDashboard = await startDashboard({
    provider: harness.provider,
    port: 0,
    readOnly: options.readOnly,
    token,
  });
  const url = running.url.replace(/\/$/, "");
  return { url, signInUrl: `${url}/?token=${token}`, close: () => running.close() };
}
let screenshots: string;
/** Uncaught script errors in the page: none are expected. */
const pageErrors: string[] = [];

async function seed(harness: Harness): Promise<void> {
  const runtime = harness.runtime();
  runtime.registerActivity(
    "Reserve",
    async (_ctx, order: { sku: string; qty: number }) => `${order.sku}×${order.qty}`,
  );
  runtime.registerActivity("Pack", async (_ctx, item: string) => `packed ${item}`);
  runtime.registerActivity("Charge", async () => {
    throw new Error("card declined: insufficient funds");
  });
  runtime.registerActivity("Count", async (_ctx, n: number) => n);
  runtime.registerOrchestration("Ship", function* (ctx, item: string) {
    return yield ctx.scheduleActivity("Pack", item);
  });
  // Activities, a timer and a sub-orchestration, then a failing activity left uncaught.
  runtime.registerOrchestration(
    "Checkout",
    function* (ctx, order: { sku: string; qty: number; pay: boolean }) {
      ctx.setCustomStatus(JSON.stringify({ stage: "reserving" }));
      ctx.setValue("sku", order.sku);
      const reserved: string = yield ctx.scheduleActivity("Reserve", order);
      yield ctx.scheduleTimer(150);
      const shipped: string = yield ctx.scheduleSubOrchestration("Ship", reserved);
      ctx.setCustomStatus(JSON.stringify({ stage: "charging" }));
      if (order.pay) yield ctx.scheduleActivity("Charge", order.qty);
      return { reserved, shipped };
    },
  );
  runtime.registerOrchestration("Approval", function* (ctx, request: { amount: number }) {
    ctx.setCustomStatus("waiting for a manager");
    const decision: { approved: boolean } = yield ctx.waitForEvent("Decision");
    return { ...request, ...decision };
  });
  runtime.registerOrchestration("Generations", function* (ctx, n: number) {
    yield ctx.scheduleActivity("Count", n);
    if (n < 3) return yield ctx.continueAsNew(n + 1);
    return `generation ${n}`;
  });
  runtime.registerOrchestration("Quick", function* (ctx, n: number) {
    return yield ctx.scheduleActivity("Count", n * 2);
  });
  await runtime.start();

  const client = harness.client;
  await client.startOrchestration("order-completed", "Checkout", { sku: "A-100", qty: 2, pay: false });
  await client.startOrchestration("order-failed", "Checkout", { sku: "B-200", qty: 1, pay: true });
  await client.startOrchestration("approval-to-cancel", "Approval", { amount: 120 });
  await client.startOrchestration("approval-waiting", "Approval", { amount: 990 });
  await client.startOrchestration("approval-to-raise", "Approval", { amount: 45 });
  await client.startOrchestration("disposable", "Approval", { amount: 1 });
  await client.startOrchestration("generations", "Generations", 1);
  for (let i = 1; i <= QUICK_COUNT; i++) await client.startOrchestration(`quick-${i}`, "Quick", i);

  expect(await client.waitForOrchestrationTyped("order-completed")).toMatchObject({
    shipped: "packed A-100×2",
  });
  expect(await client.waitForOrchestration("order-failed")).toMatchObject({ status: "Failed" });
  expect(await client.waitForOrchestrationTyped("generations")).toBe("generation 3");
  for (let i = 1; i <= QUICK_COUNT; i++) await client.waitForOrchestrationTyped(`quick-${i}`);
  await waitForHistory(harness, "approval-to-cancel", "ExternalSubscribed");
  for (const id of ["approval-waiting", "approval-to-raise", "disposable"]) {
    await waitForHistory(harness, id, "ExternalSubscribed");
  }
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(screenshots, `${name}.png`) });
}

/** Ids of the instance rows on screen, in order. */
async function listedIds(): Promise<string[]> {
  return page
    .locator("tr[data-instance]")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-instance") ?? ""));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the dashboard's browser test drives Debian's Chromium (apt-get install chromium); ` +
        "it downloads no browser of its own.",
    );
  }
  screenshots =
    process.env.SAVE_SCREENSHOTS === "1"
      ? resolve(import.meta.dirname, "../../docs/images")
      : await mkdtemp(join(tmpdir(), "pgd-dashboard-shots-"));
  await mkdir(screenshots, { recursive: true });

  h = await createHarness("dash_ui");
  await seed(h);
  dashboard = await startTestDashboard(h, { readOnly: false });
  readOnlyDashboard = await startTestDashboard(h, { readOnly: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(dashboard.signInUrl);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await readOnlyDashboard?.close();
  await dashboard?.close();
  await h?.close();
});

describe("dashboard in a browser", () => {
  it("lists the seeded instances of every status with status badges", async () => {
    await page.goto(`${dashboard.url}/`);
    await page.locator('tr[data-instance="order-failed"]').waitFor();
    const ids = await listedIds();
    for (const id of ["order-completed", "order-failed", "approval-waiting", "generations", "quick-1"]) {
      expect(ids).toContain(id);
    }
    const badge = (id: string) =>
      page.locator(`tr[data-instance="${id}"] .badge`).getAttribute("data-status");
    expect(await badge("order-completed")).toBe("Completed");
    expect(await badge("order-failed")).toBe("Failed");
    expect(await badge("approval-waiting")).toBe("Running");
    await expect.poll(() => page.locator("#queues .queue-chip").count(), { timeout: UI_TIMEOUT }).toBe(2);
    await shot("dashboard-list");
  });

  it("filters by status and keeps the filter in the URL", async () => {
    await page.goto(`${dashboard.url}/`);
    await page.locator("tr[data-instance]").first().waitFor();
    await page.selectOption("#filter-status", "Failed");
    await expect.poll(listedIds, { timeout: UI_TIMEOUT }).toEqual(["order-failed"]);
    expect(new URL(page.url()).searchParams.get("status")).toBe("Failed");

    await page.selectOption("#filter-status", "Running");
    await expect
      .poll(async () => (await listedIds()).sort(), { timeout: UI_TIMEOUT })
      .toEqual(["approval-to-cancel", "approval-to-raise", "approval-waiting", "disposable"]);

    await page.goto(`${dashboard.url}/?status=Completed&q=quick-3`);
    await expect.poll(listedIds, { timeout: UI_TIMEOUT }).toEqual(["quick-3"]);
  });

  it("pages forward and back with keyset cursors", async () => {
    // Instances get their creation time when a runtime first runs them, so their order is not the
    // start order: the test checks the pages cover each instance once, and Previous retraces them.
    await page.goto(`${dashboard.url}/?name=Quick&limit=2&sort=created_asc`);
    const previous = page.locator('[data-page="previous"]');
    const next = page.locator('[data-page="next"]');
    const rowCount = () => page.locator("tr[data-instance]").count();
    await expect.poll(rowCount, { timeout: UI_TIMEOUT }).toBe(2);
    const first = await listedIds();
    expect(await previous.isDisabled()).toBe(true);

    await next.click();
    await expect.poll(listedIds, { timeout: UI_TIMEOUT }).not.toEqual(first);
    const second = await listedIds();
    expect(second).toHaveLength(2);
    await next.click();
    await expect.poll(listedIds, { timeout: UI_TIMEOUT }).toHaveLength(1);
    const third = await listedIds();
    await expect.poll(() => next.isDisabled(), { timeout: UI_TIMEOUT }).toBe(true);
    expect([...first, ...second, ...third].sort()).toEqual(
      Array.from({ length: QUICK_COUNT }, (_, i) => `quick-${i + 1}`),
    );

    await previous.click();
    await expect.poll(listedIds, { timeout: UI_TIMEOUT }).toEqual(second);
    await previous.click();
    await expect.poll(listedIds, { timeout: UI_TIMEOUT }).toEqual(first);
    expect(await previous.isDisabled()).toBe(true);
  });

  it("opens an instance at its own URL with its data, tree and a timeline marking the failure", async () => {
    await page.goto(`${dashboard.url}/?q=order-failed`);
    await page.locator('tr[data-instance="order-failed"] a').first().click();
    await page.waitForURL(/\/instances\/order-failed$/);
    const timeline = page.locator(".timeline-svg");
    await timeline.waitFor();

    const kinds = await timeline
      .locator(".tl-row")
      .evaluateAll((rows) =>
        rows.map((r) => `${r.getAttribute("data-kind")}:${r.getAttribute("data-outcome")}`),
      );
    expect(kinds).toEqual(
      expect.arrayContaining([
        "execution:failed",
        "activity:completed",
        "timer:completed",
        "subOrchestration:completed",
        "activity:failed",
      ]),
    );
    expect(
      await timeline.locator(".tl-row[data-outcome=failed] .tl-fail-mark").count(),
    ).toBeGreaterThanOrEqual(1);
    const timerMs = Number(
      await timeline.locator(".tl-row[data-kind=timer] .tl-bar").getAttribute("data-duration-ms"),
    );
    expect(timerMs).toBeGreaterThanOrEqual(100); // a 150 ms timer, measured between stored event times

    await expect
      .poll(() => page.locator(".instance-title .badge").getAttribute("data-status"))
      .toBe("Failed");
    expect(await page.locator(".json-error .json-body").innerText()).toContain("card declined");
    expect(await page.locator(".tree .tree-node").count()).toBeGreaterThanOrEqual(2); // itself and the Ship child
    await shot("dashboard-instance");

    // The page reloads at its URL (a bookmark) and the child's link leads to the child's page.
    await page.reload();
    await page.locator(".tree a").first().click();
    await page.waitForURL(/\/instances\/order-failed(%3A%3A|::)sub/);
    await expect
      .poll(() => page.locator(".instance-title .badge").getAttribute("data-status"))
      .toBe("Completed");
  });

  it("shows each execution of an instance that continued as new", async () => {
    await page.goto(`${dashboard.url}/instances/generations`);
    await page.locator(".tabs [data-execution]").first().waitFor();
    expect(await page.locator(".tabs [data-execution]").count()).toBe(3);
    await page.locator('.tabs [data-execution="1"]').click();
    await page.waitForURL(/execution=1/);
    await expect
      .poll(() => page.locator('.tabs [data-execution="1"]').getAttribute("aria-selected"))
      .toBe("true");
    await page.locator(".timeline-svg .tl-row[data-kind=activity]").waitFor();
  });

  it("cancels a running instance through the confirmation dialog and shows its new status", async () => {
    await page.goto(`${dashboard.url}/instances/approval-to-cancel`);
    await expect
      .poll(() => page.locator(".instance-title .badge").getAttribute("data-status"))
      .toBe("Running");
    await page.locator('[data-action="cancel"]').click();
    const dialog = page.locator("dialog[open]");
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain("approval-to-cancel");
    await dialog.locator("input[name=reason]").fill("no longer needed");
    await dialog.locator("[data-confirm]").click();
    await dialog.waitFor({ state: "detached" });

    await expect
      .poll(() => page.locator(".instance-title .badge").getAttribute("data-status"), { timeout: 30_000 })
      .toBe("Failed");
    expect((await h.client.getStatus("approval-to-cancel")).status).toBe("Failed");
    expect(await page.locator(".json-error .json-body").innerText()).toContain("no longer needed");
    expect(await page.locator('[data-action="cancel"]').count()).toBe(0); // finished: nothing to cancel
  });

  it("raises an event through the dialog, refusing data that is not JSON", async () => {
    await page.goto(`${dashboard.url}/instances/approval-to-raise`);
    await page.locator('[data-action="raise"]').click();
    const dialog = page.locator("dialog[open]");
    await dialog.locator("input[name=name]").fill("Decision");
    await dialog.locator("textarea[name=data]").fill("{approved: true}");
    await dialog.locator("[data-confirm]").click();
    expect(await dialog.locator(".dialog-error").innerText()).toContain("not valid JSON");
    await dialog.locator("textarea[name=data]").fill('{"approved": true}');
    await dialog.locator("[data-confirm]").click();
    await dialog.waitFor({ state: "detached" });

    await expect
      .poll(() => page.locator(".instance-title .badge").getAttribute("data-status"), { timeout: 30_000 })
      .toBe("Completed");
    expect(await h.client.waitForOrchestrationTyped("approval-to-raise")).toEqual({
      amount: 45,
      approved: true,
    });
    expect(await page.locator(".json-list").innerText()).toContain('"approved": true');
  });

  it("prunes old executions through the dialog", async () => {
    await page.goto(`${dashboard.url}/`);
    await page.locator('[data-action="prune"]').click();
    const dialog = page.locator("dialog[open]");
    await dialog.locator("[data-confirm]").click();
    expect(await dialog.locator(".dialog-error").innerText()).toContain("keep the last N");
    await dialog.locator("input[name=keepLast]").fill("1");
    await dialog.locator("[data-confirm]").click();
    await dialog.waitFor({ state: "detached" });
    await expect.poll(() => page.locator(".toast").first().innerText()).toContain("Pruned 2 execution(s)");

    await page.goto(`${dashboard.url}/instances/generations`);
    await page.locator(".timeline-svg").waitFor();
    expect(await page.locator(".tabs [data-execution]").count()).toBe(0); // only the current one is left
  });

  it("deletes an unfinished instance through the dialog and returns to the list", async () => {
    await page.goto(`${dashboard.url}/instances/disposable`);
    await page.locator('[data-action="delete"]').click();
    const dialog = page.locator("dialog[open]");
    expect(await dialog.innerText()).toContain("has not finished");
    await dialog.locator("[data-confirm]").click();
    await page.waitForURL(`${dashboard.url}/`);
    await page.locator("tr[data-instance]").first().waitFor();
    expect(await listedIds()).not.toContain("disposable");
    await page.goto(`${dashboard.url}/instances/disposable`);
    await page.getByText("Instance not found").waitFor();
  });

  it("draws the metrics charts", async () => {
    await page.goto(`${dashboard.url}/metrics`);
    await page.locator(".chart-card svg.chart").first().waitFor();
    expect(await page.locator(".chart-card svg.chart").count()).toBe(3);
    // The seeded orchestrations ran in the last minutes: bars for them, a point or line of latency.
    const drawn = (selector: string) => page.locator(selector).count();
    expect(await drawn("[data-chart=throughput] [data-series=started] rect")).toBeGreaterThan(0);
    expect(await drawn("[data-chart=throughput] [data-series=failed] rect")).toBeGreaterThan(0);
    expect(await drawn("[data-chart=turn] [data-series=turnP50Ms] :is(circle, polyline)")).toBeGreaterThan(0);
    expect(
      await drawn("[data-chart=activity] [data-series=activityP95Ms] :is(circle, polyline)"),
    ).toBeGreaterThan(0);
    await shot("dashboard-charts");
  });

  it("disables every action in read-only mode", async () => {
    const readOnly = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const roPage = await readOnly.newPage();
    roPage.setDefaultTimeout(UI_TIMEOUT);
    try {
      await roPage.goto(readOnlyDashboard.signInUrl);
      await roPage.goto(`${readOnlyDashboard.url}/instances/approval-waiting`);
      await roPage.locator('[data-action="cancel"]').waitFor();
      expect(await roPage.locator("#readonly-badge").isVisible()).toBe(true);
      for (const action of ["raise", "cancel", "delete"]) {
        expect(await roPage.locator(`[data-action="${action}"]`).isDisabled()).toBe(true);
      }
      await roPage.goto(`${readOnlyDashboard.url}/`);
      expect(await roPage.locator('[data-action="prune"]').isDisabled()).toBe(true);
      expect((await h.client.getStatus("approval-waiting")).status).toBe("Running");
    } finally {
      await readOnly.close();
    }
  });

  it("ran without script errors in the page", () => {
    expect(pageErrors).toEqual([]);
  });
});
