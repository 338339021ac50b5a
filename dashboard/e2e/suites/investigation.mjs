// Investigating: long traces, comparing runs, error issues, versions, latency and cost,
// drill-down, filter chips and dropdowns, saved views.
import assert from "node:assert/strict";
import { LONG_TICKET, apiGet } from "../data.mjs";
import { shot, signIn, test } from "../lib.mjs";

export async function run({ browser, base, users, alphaKey }) {
  const A = `${base}/dashboard/alpha`;
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  await signIn(page, base, "ana", users.ana);

  await test("long trace: 24 steps in a compact table, jump to the failing step, search matches highlighted", async () => {
    await page.goto(`${A}/logs?q=${LONG_TICKET.slice(0, 12)}`);
    await page.getByTestId("log-row").first().click();
    await page.getByTestId("react-timeline").waitFor();
    assert.equal(await page.getByTestId("react-step").count(), 24);
    const height = await page.getByTestId("react-timeline").evaluate((el) => el.getBoundingClientRect().height);
    assert.ok(height < 1200, `24 collapsed steps take ${height}px`);
    assert.match(await page.getByTestId("react-step").nth(23).textContent(), /2\.38 s$/); // 150 + 97 · 23 ms
    await page.getByRole("button", { name: "Jump to the failing step (17)" }).click();
    const detail = page.getByTestId("react-step-detail");
    await detail.getByText(/connection refused/).waitFor();
    assert.ok((await detail.getByTestId("error-mark").allTextContents()).includes("503 Service Unavailable"));
    await shot(page, "08-long-trace");
    // Opened from a search: the matching steps are marked and open.
    const id = page.url().split("/logs/")[1].split("?")[0];
    await page.goto(`${A}/logs/${id}?highlight=warranty`);
    await page.getByTestId("react-timeline").waitFor();
    const matching = await page.locator('[data-testid="react-step"][data-match]').count();
    assert.equal(matching, 8); // every third step checks the warranty
    assert.equal(await page.getByTestId("react-step-detail").count(), 8);
  });

  await test("search: type a phrase from a step, see the run with its snippet, open it on that step", async () => {
    await page.goto(`${A}/logs`);
    await page.locator("#log-search").fill('"connection refused"');
    await page.locator("#log-search").press("Enter");
    await page.waitForURL(/q=%22connection/);
    const row = page.getByTestId("log-row").first();
    // The list of every log stays on screen until the search answers: wait for the search's rows.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length === 1);
    assert.equal(await page.getByTestId("log-row").count(), 1); // the one run whose step 17 says it
    const snippet = page.getByTestId("log-snippet").first();
    assert.match(await snippet.textContent(), /payload\.trace\.react_iterations\[16\]\.observation/);
    assert.deepEqual(await snippet.locator("mark").allTextContents(), ["connection refused"]);
    await shot(page, "08b-search");
    await row.click();
    await page.getByTestId("react-timeline").waitFor();
    const matched = page.locator('[data-testid="react-step"][data-match]');
    assert.equal(await matched.count(), 1);
    assert.match(await matched.textContent(), /^\s*▸?\s*17/);
    const detail = page.getByTestId("react-step-detail");
    assert.equal(await detail.count(), 1); // only the matching step is open
    assert.deepEqual(await detail.locator("mark.bg-yellow-200").allTextContents(), ["connection refused"]);
  });

  await test("compare two runs of one ticket side by side", async () => {
    await page.goto(`${A}/logs?ticket_id=A-1003`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length === 2);
    await page.getByTestId("log-row").first().click();
    await page.getByTestId("other-runs").getByRole("link", { name: "Compare" }).click();
    await page.getByTestId("compare-runs").waitFor();
    const steps = page.getByTestId("steps-diff").locator("tbody tr");
    assert.equal(await steps.count(), 4);
    assert.equal(await steps.nth(3).getAttribute("data-differs"), "true"); // only the second run has a 4th step
    assert.match(await page.getByTestId("metrics-diff").textContent(), /Total tokens/);
    assert.equal(await page.title(), "Compare runs · Alpha Support · Central Logger");
    await shot(page, "09-compare-runs");
  });

  await test("error issues: grouped failures with trend, versions, new in v1.2, and their runs", async () => {
    await page.goto(`${A}/issues`);
    await page.getByTestId("issue-row").first().waitFor();
    const api = await apiGet(base, alphaKey, "/api/v1/metrics/issues?days=7&limit=100");
    assert.equal(await page.getByTestId("issue-row").count(), api.data.length);
    assert.equal(await page.getByTestId("issues-total").textContent().then((t) => t.split(",")[0]), `${api.total} issues`);
    const schema = page.getByTestId("issue-row").filter({ hasText: "SchemaError @ react_agent" });
    assert.equal(await schema.getByTestId("new-in").textContent(), "new in v1.2");
    assert.match(await schema.textContent(), /tool <q> returned <q> as a list for order <n>/);
    await shot(page, "10-issues");
    // Only the issues new in v1.2.
    await page.getByLabel("New in version").selectOption("v1.2");
    await page.waitForURL(/new_in=v1\.2/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="issue-row"]').length === 1);
    // The issue page, then its runs in the list.
    await page.getByRole("link", { name: "SchemaError @ react_agent" }).click();
    await page.getByTestId("issue-title").waitFor();
    assert.equal(await page.getByTestId("issue-count").textContent(), "1");
    assert.equal(await page.getByTestId("issue-examples").locator("li").count(), 1);
    await page.getByTestId("issue-trend").waitFor();
    await shot(page, "11-issue");
    await page.getByRole("link", { name: /All 1 run of this period/ }).click();
    await page.waitForURL(/error_issue=[0-9a-f]{16}/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length === 1);
    assert.ok((await page.getByTestId("log-row").textContent()).includes("A-EDGE-3"));
    assert.match(await page.getByTestId("filter-chips").textContent(), /Error issue:/);
  });

  await test("versions: each version's figures, and two side by side with a verdict per metric", async () => {
    await page.goto(`${A}/versions`);
    await page.getByTestId("version-row").first().waitFor();
    const api = await apiGet(base, alphaKey, "/api/v1/metrics/versions?days=7");
    assert.equal(await page.getByTestId("version-row").count(), api.data.length);
    const compare = page.getByTestId("versions-compare");
    await compare.waitFor();
    const rows = await compare.getByTestId("comparison-row").count();
    assert.ok(rows >= 5, `${rows} comparison rows`);
    const success = await compare.locator('[data-metric="success_rate"]').textContent();
    assert.match(success, /(beyond noise|within noise|too few runs to tell)/);
    assert.match(await page.getByText(/two-proportion z-test/).textContent(), /Welch's t-test/);
    await shot(page, "12-versions");
    // A version's runs, for the same period.
    await page.getByTestId("version-row").filter({ hasText: "v1.1" }).getByRole("link").first().click();
    await page.waitForURL(/workflow_version=v1\.1/);
    const listed = await apiGet(base, alphaKey, `/api/v1/logs?${new URL(page.url()).searchParams}`);
    await page.getByTestId("list-total").filter({ hasText: `${listed.pagination.total} log` }).waitFor();
  });

  await test("latency and cost: p50/p95 over time, tokens and cost per day and version, both drill down to logs", async () => {
    await page.goto(`${A}/latency`);
    await page.getByTestId("latency-chart").waitFor();
    await page.getByTestId("usage-totals").waitFor();
    assert.match(await page.getByTestId("usage-totals").textContent(), /Total tokens/);
    await page.getByLabel("Tokens and cost per").selectOption("workflow_version");
    await page.getByTestId("usage-table").getByText("v1.2").waitFor();
    await page.waitForTimeout(300);
    await shot(page, "13-latency-cost");
    // Drill-down: a version of the usage table opens its logs for the same period, ...
    await page.getByTestId("usage-table").getByRole("link", { name: "v1.2" }).click();
    await page.waitForURL(/\/logs\?start_date=.*&workflow_version=v1\.2/);
    await page.getByTestId("log-row").first().waitFor();
    assert.match(await page.getByTestId("filter-chips").textContent(), /v1\.2/);
    // ... and a bucket of the latency chart its logs, slowest first.
    await page.goto(`${A}/latency`);
    await page.getByTestId("latency-chart").waitFor();
    await page.waitForTimeout(300);
    const plot = await page.getByTestId("latency-chart").locator(".recharts-cartesian-grid").boundingBox();
    await page.mouse.move(plot.x + plot.width - 6, plot.y + plot.height / 2);
    await page.mouse.click(plot.x + plot.width - 6, plot.y + plot.height / 2);
    await page.waitForURL(/\/logs\?start_date=\d{4}-\d{2}-\d{2}&end_date=\d{4}-\d{2}-\d{2}.*ordering=-execution_time_seconds/);
  });

  await test("drill-down: a chart bucket, chips with x, dropdown values from the API", async () => {
    await page.goto(`${A}/overview`);
    await page.getByTestId("chart-timeseries").waitFor();
    await page.waitForTimeout(300);
    // The last day's bucket: a click anywhere in its column of the plot opens its logs.
    const plot = await page.getByTestId("chart-timeseries").locator(".recharts-cartesian-grid").boundingBox();
    await page.mouse.move(plot.x + plot.width - 6, plot.y + plot.height / 2);
    await page.mouse.click(plot.x + plot.width - 6, plot.y + plot.height / 2);
    await page.waitForURL(/\/logs\?start_date=\d{4}-\d{2}-\d{2}&end_date=\d{4}-\d{2}-\d{2}/);
    const chips = page.getByTestId("filter-chips");
    await chips.waitFor();
    assert.match(await chips.textContent(), /From:.*To:/);
    await page.getByTestId("log-row").first().waitFor();
    await chips.getByRole("button", { name: "Remove filter From" }).click();
    await page.waitForURL((url) => !url.search.includes("start_date"));
    await page.getByText("More filters").click();
    await page.getByTestId("values-category").waitFor({ state: "attached" });
    const values = await page.getByTestId("values-category").locator("option").evaluateAll((options) => options.map((o) => o.value));
    assert.ok(values.includes("billing_issue") && !values.includes("beta_secret_category"), values.join(","));
    const nodes = await page.getByTestId("values-workflow_error_node").locator("option").evaluateAll((options) => options.map((o) => o.value));
    assert.ok(nodes.includes("retriever"), nodes.join(","));
  });

  await test("saved views: saved on the server, private or shared, listed in the navigation", async () => {
    await page.goto(`${A}/logs?status=FAILED,ERROR&ordering=-execution_time_seconds`);
    await page.getByTestId("log-row").first().waitFor();
    await page.getByRole("button", { name: "Save view" }).click();
    await page.getByRole("form", { name: "Save this view" }).getByLabel("Name").fill("Slowest failures");
    await page.getByLabel("Share with everyone in this client").check();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved “Slowest failures”").waitFor();
    await page.goto(`${A}/issues?range=30d&sort=new`);
    await page.getByRole("button", { name: "Save view" }).click();
    await page.getByRole("form", { name: "Save this view" }).getByLabel("Name").fill("My new issues");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved “My new issues”").waitFor();
    await page.getByRole("button", { name: /Saved views/ }).click();
    await page.getByTestId("saved-views").getByRole("link", { name: "Slowest failures" }).click();
    await page.waitForURL(/\/alpha\/logs\?status=FAILED%2CERROR&ordering=-execution_time_seconds|\/alpha\/logs\?status=FAILED,ERROR&ordering=-execution_time_seconds/);
    await page.getByTestId("log-row").first().waitFor();
    // Another member of alpha sees the shared view, not ana's private one.
    const other = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const maxPage = await other.newPage();
    await signIn(maxPage, base, "max", users.max);
    await maxPage.getByRole("button", { name: /Saved views/ }).click();
    const list = maxPage.getByTestId("saved-views");
    await list.getByRole("link", { name: "Slowest failures" }).waitFor();
    assert.equal(await list.getByRole("link", { name: "My new issues" }).count(), 0);
    assert.equal(await list.getByRole("button", { name: /Delete/ }).count(), 0); // not theirs
    await maxPage.getByLabel("Client").selectOption("beta");
    await maxPage.waitForURL(/\/beta\//);
    await maxPage.getByRole("button", { name: /Saved views/ }).click();
    await maxPage.getByText("No saved views yet.").waitFor();
    await other.close();
  });

  await context.close();
}
