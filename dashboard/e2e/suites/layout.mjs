// Every page at 1440 px and 390 px with long, empty and multilingual values: no sideways
// scrolling (defects 2 and 3); accessibility (axe-core: WCAG 2 A/AA, colour contrast) and the
// keyboard on the new pages; phone screenshots.
import assert from "node:assert/strict";
import { LONG_TICKET, apiGet } from "../data.mjs";
import { axe, shot, sideways, signIn, test } from "../lib.mjs";

async function pages(base, alphaKey) {
  const A = `${base}/dashboard/alpha`;
  const logs = (await apiGet(base, alphaKey, "/api/v1/logs?page_size=500")).data;
  const long = logs.find((l) => l.ticket_id === LONG_TICKET);
  const empty = logs.find((l) => l.ticket_id === null);
  const issue = (await apiGet(base, alphaKey, "/api/v1/metrics/issues?days=7")).data.find((i) => i.workflow_error_type === "SchemaError");
  return {
    overview: [`${A}/overview`, '[data-testid="kpi-tickets-value"]'],
    logs: [`${A}/logs`, '[data-testid="log-row"]'],
    "log-long": [`${A}/logs/${long.id}`, '[data-testid="react-timeline"]'],
    "log-empty": [`${A}/logs/${empty.id}`, '[data-testid="detail-ticket"]'],
    issues: [`${A}/issues`, '[data-testid="issue-row"]'],
    issue: [`${A}/issues/${issue.fingerprint}`, '[data-testid="issue-title"]'],
    versions: [`${A}/versions`, '[data-testid="versions-compare"]'],
    latency: [`${A}/latency`, '[data-testid="usage-table"]'],
    categories: [`${A}/categories`, '[data-testid="categories-table"]'],
    compare: [`${A}/compare?a=${long.id}&b=${empty.id}`, '[data-testid="compare-runs"]'],
  };
}

export async function run({ browser, base, users, alphaKey }) {
  const targets = await pages(base, alphaKey);

  for (const [width, label] of [[1440, "desktop"], [390, "phone"]]) {
    await test(`no page scrolls sideways at ${width} px, with long, empty and multilingual values`, async () => {
      const context = await browser.newContext(width === 390
        ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
        : { viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      await signIn(page, base, "ana", users.ana);
      const wide = [];
      for (const [name, [url, ready]] of Object.entries(targets)) {
        await page.goto(url);
        await page.locator(ready).first().waitFor();
        await page.waitForTimeout(250); // charts lay out
        if (name === "log-long") await page.getByRole("button", { name: "Expand all" }).click();
        const by = await sideways(page);
        if (by > 1) wide.push(`${name}: ${by}px`);
        if (label === "phone" && ["overview", "logs", "issues", "versions", "log-long", "categories"].includes(name)) await shot(page, `phone-${name}`);
      }
      assert.deepEqual(wide, []);
      await context.close();
    });
  }

  await test("accessibility of the new pages: axe-core finds no WCAG 2 A/AA violation (contrast included)", async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    await signIn(page, base, "ana", users.ana);
    const found = [];
    for (const name of ["issues", "issue", "versions", "latency", "compare", "log-long", "logs", "overview"]) {
      const [url, ready] = targets[name];
      await page.goto(url);
      await page.locator(ready).first().waitFor();
      await page.waitForTimeout(250);
      if (name === "log-long") await page.getByRole("button", { name: "Expand all" }).click();
      for (const violation of await axe(page)) found.push(`${name}: ${violation}`);
    }
    assert.deepEqual(found, []);
    await context.close();
  });

  await test("keyboard: from the navigation to an issue, its runs and a trace step, without a mouse", async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    await signIn(page, base, "ana", users.ana);
    await page.goto(targets.issues[0]);
    await page.getByTestId("issue-row").first().waitFor();
    // Tab until the first issue's link has the focus, then open it with Enter.
    let found = false;
    for (let i = 0; i < 60 && !found; i++) {
      await page.keyboard.press("Tab");
      found = await page.evaluate(() => document.activeElement?.closest('[data-testid="issue-row"]') !== null && document.activeElement?.tagName === "A");
    }
    assert.ok(found, "no issue link reachable with Tab");
    await page.keyboard.press("Enter");
    await page.getByTestId("issue-title").waitFor();
    // A trace step opens with Enter on its button.
    await page.goto(targets["log-long"][0]);
    await page.getByTestId("react-timeline").waitFor();
    await page.getByRole("button", { name: /Step 1:/ }).focus();
    await page.keyboard.press("Enter");
    await page.getByTestId("react-step-detail").waitFor();
    await page.keyboard.press("Tab"); // the next step's button
    assert.match(await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? ""), /Step 2/);
    await context.close();
  });
}
