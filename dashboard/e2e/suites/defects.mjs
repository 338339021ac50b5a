// The defects a real-browser review found (issue 26), each pinned in the browser.
import assert from "node:assert/strict";
import { alphaLog, apiGet, ingest } from "../data.mjs";
import { signIn, test } from "../lib.mjs";

export async function run({ browser, base, users, alphaKey, tenants, ALPHA_CURRENT }) {
  const A = `${base}/dashboard/alpha`;
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  await signIn(page, base, "max", users.max);

  await test("defect 1: two tabs on two clients never leak into each other; links name their client", async () => {
    const tabA = page;
    const tabB = await context.newPage();
    await tabA.goto(`${A}/overview`);
    await tabB.goto(`${base}/dashboard/beta/overview`);
    await tabB.getByTestId("kpi-tickets-value").filter({ hasText: "12" }).waitFor();
    // Switching client in tab B…
    await tabB.getByLabel("Client").selectOption("alpha");
    await tabB.waitForURL(/\/dashboard\/alpha\/overview/);
    await tabB.getByLabel("Client").selectOption("beta");
    await tabB.waitForURL(/\/dashboard\/beta\/overview/);
    // …leaves tab A on alpha: its own reloads and navigation still show alpha under alpha's name.
    await tabA.reload();
    await tabA.getByTestId("kpi-tickets-value").waitFor();
    const alphaTickets = (await apiGet(base, alphaKey, "/api/v1/metrics/overview?days=7")).total_tickets;
    assert.equal(await tabA.getByTestId("kpi-tickets-value").textContent(), String(alphaTickets));
    assert.equal(await tabA.getByLabel("Client").inputValue(), "alpha");
    await tabA.getByRole("link", { name: "Logs", exact: true }).click();
    await tabA.getByTestId("log-row").first().waitFor();
    assert.ok(!(await tabA.getByRole("table", { name: "Logs" }).textContent()).includes("B-20"));
    // A link to one of beta's logs, opened while alpha was last used: it shows that log.
    const betaId = (await apiGet(base, tenants.beta.key, "/api/v1/logs?page_size=1")).data[0].id;
    await tabA.goto(`${base}/dashboard/beta/logs/${betaId}`);
    await tabA.getByTestId("detail-ticket").filter({ hasText: "B-20" }).waitFor();
    assert.equal(await tabA.getByLabel("Client").inputValue(), "beta");
    // Links from before the client was in the URL still work.
    await tabA.goto(`${base}/dashboard/logs?status=FAILED`);
    await tabA.waitForURL(/\/dashboard\/(alpha|beta)\/logs\?status=FAILED$/);
    await tabB.close();
  });

  await test("defect 4: a page whose code cannot be loaded offers a reload instead of a blank app", async () => {
    await page.goto(`${A}/overview`);
    await page.getByTestId("kpi-tickets-value").waitFor();
    // As after a deploy replaced the files: the Versions page's chunk is gone.
    await page.route(/\/static\/dashboard\/assets\/Versions-[^/]*\.js$/, (route) => route.fulfill({ status: 404, body: "gone" }));
    await page.getByRole("link", { name: "Versions" }).click();
    const boundary = page.getByTestId("page-error");
    await boundary.getByText("This page could not be loaded.").waitFor();
    assert.ok(await page.getByRole("navigation", { name: "Main" }).isVisible(), "the app stays, only the page failed");
    await page.unroute(/\/static\/dashboard\/assets\/Versions-[^/]*\.js$/);
    await Promise.all([page.waitForEvent("load"), boundary.getByRole("button", { name: "Reload the page" }).click()]);
    await page.getByTestId("versions-table").waitFor();
  });

  await test("defect 5: a log sent late (an old executed_at) shows without waiting for the minute's refresh", async () => {
    await page.goto(`${A}/logs`);
    await page.getByTestId("log-row").first().waitFor();
    const started = Date.now();
    const twoDaysAgo = new Date(Date.now() - 49 * 3600 * 1000).toISOString();
    await ingest(base, alphaKey, [{ ...alphaLog(4), event_id: "late-1", ticket_id: "A-LATE-1", executed_at: twoDaysAgo }]);
    await page.getByTestId("log-row").filter({ hasText: "A-LATE-1" }).waitFor({ timeout: 5000 });
    assert.ok(Date.now() - started < 5000);
  });

  await test("defect 6: no 'new' rows after a filter change or on page 2; Live turns Offline; drafts survive a chip", async () => {
    await page.goto(`${A}/logs`);
    await page.getByTestId("log-row").first().waitFor();
    await page.getByRole("button", { name: "PARTIAL", exact: true }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="log-row"]')].every((r) => r.textContent.includes("PARTIAL")));
    await page.waitForTimeout(300);
    assert.equal(await page.locator('[data-testid="log-row"][data-fresh]').count(), 0);
    await page.goto(`${A}/logs?page_size=25&page=2`);
    await page.getByTestId("log-row").first().waitFor();
    await page.waitForTimeout(300);
    assert.equal(await page.locator('[data-testid="log-row"][data-fresh]').count(), 0);
    // The server cannot be reached: the badge says so, then recovers.
    await page.goto(`${A}/logs`);
    await page.getByTestId("live-badge").filter({ hasText: "Live" }).waitFor();
    await page.route("**/api/v1/logs/changes", (route) => route.abort("connectionrefused"));
    await page.getByTestId("live-badge").filter({ hasText: "Offline" }).waitFor({ timeout: 6000 });
    await page.unroute("**/api/v1/logs/changes");
    await page.getByTestId("live-badge").filter({ hasText: "Live" }).waitFor({ timeout: 6000 });
    // Half-typed search and a "More filters" draft stay when a status chip is clicked.
    await page.getByRole("searchbox").fill("half-typed");
    await page.getByText("More filters").click();
    await page.locator('input[name="customer_type"]').fill("VI");
    await page.getByRole("button", { name: "ERROR", exact: true }).click();
    await page.waitForURL(/status=ERROR/);
    assert.equal(await page.getByRole("searchbox").inputValue(), "half-typed");
    assert.equal(await page.locator('input[name="customer_type"]').inputValue(), "VI");
  });

  await test("defect 7: deltas, kept periods, pages past the end, '1 log', friendly errors, titles, favicon, human durations", async () => {
    // Beta has nothing before its 3 days: no "+100 pp" against an empty period.
    await page.goto(`${base}/dashboard/beta/overview`);
    await page.getByTestId("kpi-success").waitFor();
    assert.match(await page.getByTestId("kpi-success").textContent(), /no earlier data/);
    assert.doesNotMatch(await page.getByTestId("kpi-success").textContent(), /pp/);
    // The categories' Logs link keeps the period: as many logs as the category counts.
    await page.goto(`${A}/categories?range=7d`);
    await page.getByTestId("categories-table").waitFor();
    const row = page.getByTestId("categories-table").locator("tbody tr").filter({ hasText: "billing_issue" });
    const counted = (await row.locator("td").nth(1).textContent()).trim();
    await row.getByRole("link", { name: "Logs of billing_issue" }).click();
    await page.waitForURL(/category=billing_issue/);
    assert.match(page.url(), /start_date=.*end_date=/);
    await page.getByTestId("list-total").filter({ hasText: `${counted} log` }).waitFor();
    // A page past the end says so.
    await page.goto(`${A}/logs?page=9`);
    await page.getByText("Page 9 is past the end.").waitFor();
    await page.getByRole("button", { name: "Go to the last page" }).click();
    await page.getByTestId("log-row").first().waitFor();
    // A bad value in a friendly filter: named as the page names it, no "Try again".
    await page.goto(`${A}/logs?confidence_min=high`);
    const alert = page.getByRole("alert").filter({ hasText: "A filter is not valid." });
    await alert.waitFor();
    assert.match(await alert.textContent(), /Confidence ≥: /);
    assert.equal(await alert.getByRole("button", { name: "Try again" }).count(), 0);
    // Titles and a favicon.
    assert.equal(await page.title(), "Logs · Alpha Support · Central Logger");
    const icon = await page.locator('link[rel="icon"]').getAttribute("href");
    assert.equal((await page.request.get(`${base}${icon}`)).status(), 200);
  });

  await context.close();
}
