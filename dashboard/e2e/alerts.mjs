// End-to-end of the Alerts page in real Chromium against the live server (run by run.mjs, whose
// server evaluates every second and may notify loopback receivers): an admin creates a rule
// with its 7-day preview, a failure fires it, the signed webhook reaches a receiver here, the
// header badge and the event history show it, test / snooze / wake work; a viewer only reads,
// and another tenant's user sees none of it.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import http from "node:http";
import { alphaLog, apiGet, ingest } from "./data.mjs";
import { sideways } from "./lib.mjs";

export const ALERTS_ENV = {
  ALERT_EVAL_INTERVAL_SECONDS: "1",
  ALERT_DELIVERY_INTERVAL_SECONDS: "0.3",
  ALERT_ALLOW_PRIVATE_TARGETS: "true", // the receiver below listens on 127.0.0.1
};
const SECRET = "e2e-signing-secret-0123456789";

function startReceiver() {
  const received = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (c) => chunks.push(c));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      const timestamp = request.headers["x-central-logger-timestamp"];
      const expected = "sha256=" + createHmac("sha256", SECRET).update(`${timestamp}.`).update(body).digest("hex");
      received.push({ body: JSON.parse(body.toString("utf8")), verified: expected === request.headers["x-central-logger-signature"] });
      response.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}');
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}/hook` })));
}

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function alertTests({ browser, base, tenants, users, test, shot, signIn }) {
  const receiver = await startReceiver();
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  page.on("dialog", (dialog) => dialog.accept());
  try {
    await test("alerts: an admin creates a rule; the form previews the last 7 days", async () => {
      await signIn(page, base, "ada", users.ada);
      await page.getByRole("link", { name: "Alerts" }).click();
      await page.getByText("No alert rules yet.").waitFor();
      await page.getByRole("link", { name: "New rule" }).click();
      await page.getByLabel("Name").fill("Checkout failures");
      await page.getByLabel("Kind").selectOption("error_count");
      await page.getByLabel("Threshold").fill("1");
      await page.getByLabel("Window (minutes)").fill("60");
      await page.getByLabel("Channel 1 URL").fill(receiver.url);
      await page.getByLabel("Channel 1 secret").fill(SECRET);
      // Alpha's failures of the last 7 days (the tidy ones, the messy ones of data.mjs and those the
      // earlier tests sent): each hour with one fires once.
      await page.getByTestId("rule-preview").filter({ hasText: /would have fired \d+ times? in the last 7 days/ }).waitFor({ timeout: 10000 });
      await shot(page, "15-alert-form");
      await page.getByRole("button", { name: "Create rule" }).click();
      await page.waitForURL(/\/dashboard\/alpha\/alerts$/);
      const row = page.getByTestId("rule-row").filter({ hasText: "Checkout failures" });
      await row.waitFor();
      assert.match(await row.textContent(), /FAILED\/ERROR runs ≥ 1 over 1 h/);
      await waitFor(async () => {
        if (/at \d{4}-/.test(await row.getByTestId("rule-last-value").textContent())) return true;
        await page.waitForTimeout(700); // the page refreshes every 30 s; do not wait that long
        await page.reload();
        await row.waitFor();
        return false;
      }, 15000, "the first evaluation");
      assert.equal(await row.getByTestId("rule-state").textContent(), "ok");
    });

    await test("alerts: a failure fires the rule: signed webhook, header badge, event history", async () => {
      const started = Date.now();
      await ingest(base, tenants.alpha.key, [{ ...alphaLog(3), event_id: "alert-1", ticket_id: "A-ALERT-1", executed_at: new Date().toISOString() }]);
      await waitFor(() => receiver.received.length >= 1, 10000, "the webhook");
      const hit = receiver.received[0];
      assert.ok(hit.verified, "the signature does not verify");
      assert.equal(hit.body.state, "firing");
      assert.equal(hit.body.rule.name, "Checkout failures");
      assert.equal(hit.body.client, "alpha");
      assert.ok(Date.now() - started < 5000, `webhook after ${Date.now() - started} ms`);
      // The notification's link opens alpha's matching logs, even for a member of two clients
      // whose last page was beta's (a link without the client opened the last client used).
      const link = new URL(hit.body.url);
      assert.equal(link.pathname, "/dashboard/alpha/logs");
      const other = await browser.newContext({ viewport: { width: 1366, height: 900 } });
      try {
        const reader = await other.newPage();
        await signIn(reader, base, "max", users.max, "beta");
        await reader.goto(`${base}${link.pathname}${link.search}`);
        await reader.getByTestId("log-row").filter({ hasText: "A-ALERT-1" }).waitFor();
        assert.equal(new URL(reader.url()).pathname, "/dashboard/alpha/logs");
        assert.equal(new URL(reader.url()).searchParams.get("status"), "FAILED,ERROR");
      } finally {
        await other.close();
      }
      await page.reload();
      await page.getByTestId("firing-badge").filter({ hasText: "1 firing" }).waitFor();
      const row = page.getByTestId("rule-row").filter({ hasText: "Checkout failures" });
      assert.equal(await row.getByTestId("rule-state").textContent(), "firing");
      const event = page.getByTestId("event-row").first();
      await event.waitFor();
      assert.match(await event.textContent(), /Checkout failures.*firing.*1 run/);
      await waitFor(async () => {
        if (/delivered/.test(await page.getByTestId("event-row").first().getByTestId("event-delivery").textContent())) return true;
        await page.waitForTimeout(700);
        await page.reload();
        await page.getByTestId("event-row").first().waitFor();
        return false;
      }, 15000, "the event's delivery");
      // The history's example opens the failing run.
      await page.getByTestId("event-row").first().getByTestId("event-example").click();
      await page.getByTestId("detail-ticket").filter({ hasText: "A-ALERT-1" }).waitFor();
      await page.goBack();
      await page.getByTestId("rule-row").first().waitFor();
      await shot(page, "14-alerts");
    });

    await test("alerts: test button, snooze and wake", async () => {
      const row = page.getByTestId("rule-row").filter({ hasText: "Checkout failures" });
      const before = receiver.received.length;
      await row.getByRole("button", { name: "Test" }).click();
      await row.getByTestId("test-results").filter({ hasText: "✓ webhook" }).waitFor();
      await waitFor(() => receiver.received.length > before, 5000, "the test notification");
      assert.equal(receiver.received.at(-1).body.state, "test");
      await row.getByLabel("Snooze Checkout failures").selectOption({ label: "1 hour" });
      await row.getByText("snoozed").waitFor();
      await row.getByRole("button", { name: "Wake" }).click();
      await row.getByLabel("Snooze Checkout failures").waitFor();
    });

    await test("alerts: a viewer reads the rules but cannot change them; another tenant sees none", async () => {
      const viewer = await browser.newContext({ viewport: { width: 1366, height: 900 } });
      const vpage = await viewer.newPage();
      await signIn(vpage, base, "ana", users.ana);
      await vpage.goto(`${base}/dashboard/alpha/alerts`);
      await vpage.getByTestId("rule-row").filter({ hasText: "Checkout failures" }).waitFor();
      await vpage.getByText("Only the client's admins can change alert rules.").waitFor();
      assert.equal(await vpage.getByRole("button", { name: "Test" }).count(), 0);
      const status = await vpage.evaluate(async () => {
        const token = document.cookie.match(/csrftoken=([^;]+)/)?.[1] ?? "";
        const r = await fetch("/api/v1/alerts/rules", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": token }, body: "{}" });
        return r.status;
      });
      assert.equal(status, 403);
      await viewer.close();
      const other = await browser.newContext({ viewport: { width: 1366, height: 900 } });
      const opage = await other.newPage();
      await signIn(opage, base, "ben", users.ben, "beta");
      await opage.goto(`${base}/dashboard/beta/alerts`);
      await opage.getByText("No alert rules yet.").waitFor();
      assert.equal(await opage.getByTestId("firing-badge").count(), 0);
      const rules = await apiGet(base, tenants.beta.key, "/api/v1/alerts/rules");
      assert.deepEqual(rules.data, []);
      await other.close();
    });
    await test("alerts: no alerts page scrolls sideways at 1440 or 390 px, with a long rule name", async () => {
      // Issue 26, defect 2 ("no horizontal overflow on every page"), for the pages issue 22 added.
      await page.goto(`${base}/dashboard/alpha/alerts/new`);
      await page.getByLabel("Name").fill(LONG_NAME);
      await page.getByLabel("Kind").selectOption("error_count");
      await page.getByLabel("Threshold").fill("1000");
      await page.getByLabel("Channel 1 URL").fill(receiver.url);
      await page.getByLabel("Channel 1 secret").fill(SECRET);
      await page.getByRole("button", { name: "Create rule" }).click();
      await page.waitForURL(/\/dashboard\/alpha\/alerts$/);
      const id = (await apiGet(base, tenants.alpha.key, "/api/v1/alerts/rules")).data.find((r) => r.name === LONG_NAME)?.id;
      assert.ok(id, "the long-named rule was not created");
      for (const [width, options] of [[1440, { viewport: { width: 1440, height: 900 } }], [390, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }]]) {
        const sized = await browser.newContext(options);
        const spage = await sized.newPage();
        await signIn(spage, base, "ada", users.ada);
        const wide = [];
        for (const [name, url, ready] of [
          ["alerts", "/dashboard/alpha/alerts", '[data-testid="rule-row"]'],
          ["new rule", "/dashboard/alpha/alerts/new", "form"],
          ["edit rule", `/dashboard/alpha/alerts/${id}/edit`, "form"],
        ]) {
          await spage.goto(`${base}${url}`);
          await spage.locator(ready).first().waitFor();
          await spage.waitForTimeout(250);
          const by = await sideways(spage);
          if (by > 1) wide.push(`${name}: ${by}px`);
        }
        assert.deepEqual(wide, [], `at ${width} px`);
        await sized.close();
      }
    });
  } finally {
    await context.close();
    receiver.server.close();
  }
}

// 200 characters (the most a name may have), one unbroken run of 120 among them.
const LONG_NAME = `Checkout failures of the EU payment provider ${"A1B2x".repeat(24)} (ticket 4711)`.padEnd(200, "!");
