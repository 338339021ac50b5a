// Render time of the dashboard with a big tenant: the overview and the first page of logs,
// measured in headless Chromium with the Performance API (ms from navigation start until the
// first KPI value / the first log row is on screen), against gunicorn on PostgreSQL.
//
//   node e2e/perf.mjs            # PERF_LOGS (default 1,000,000) logs in PERF_DATABASE_URL
// The database is created and filled once (e2e/perf_seed.py) and reused by later runs.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer } from "./server.mjs";
import { installTiming, renderTime } from "./timing.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const PYTHON = process.env.CL_PYTHON || path.join(ROOT, ".venv/bin/python");
const DATABASE_URL = process.env.PERF_DATABASE_URL || "postgres://root@127.0.0.1:5432/central_logger_perf";
const LOGS = Number(process.env.PERF_LOGS || 1_000_000);
const RUNS = Number(process.env.PERF_RUNS || 5);

function dbHasClient() {
  try {
    const out = execFileSync(PYTHON, ["-c", `import sys, psycopg
with psycopg.connect(sys.argv[1]) as c:
    print(c.execute("select count(*) from tenants_client where slug='alpha'").fetchone()[0])`, DATABASE_URL], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return out.trim() === "1";
  } catch {
    return false;
  }
}

const fresh = !dbHasClient();
const suffix = "-" + randomBytes(3).toString("hex");
const server = await startServer({ databaseUrl: DATABASE_URL, fresh, clients: ["alpha"], userSuffix: suffix });
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
try {
  // Loads (and counts the rollup of) the realistic logs once; later runs reuse them.
  execFileSync(PYTHON, [path.join(HERE, "perf_seed.py"), DATABASE_URL, "alpha", String(LOGS)], { stdio: "inherit" });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  await installTiming(context);
  const page = await context.newPage();
  await page.goto(`${server.base}/dashboard/login`);
  await page.getByLabel("Username").fill("ana" + suffix);
  await page.getByLabel("Password").fill(server.users.ana);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/overview/);

  const results = {};
  for (const [name, url, marker] of [
    ["overview_7d", "/dashboard/alpha/overview", "overview"],
    ["overview_90d", "/dashboard/alpha/overview?range=90d", "overview"],
    ["logs_first_page", "/dashboard/alpha/logs", "logs"],
    ["logs_failed_filter", "/dashboard/alpha/logs?status=FAILED,ERROR", "logs"],
    ["issues_7d", "/dashboard/alpha/issues", "issues"],
    ["issues_90d", "/dashboard/alpha/issues?range=90d", "issues"],
    ["versions_7d", "/dashboard/alpha/versions", "versions"],
    ["versions_90d", "/dashboard/alpha/versions?range=90d", "versions"],
    // the tokens-and-cost table per category (the usage rollup, logs migration 0018)
    ["latency_usage_7d", "/dashboard/alpha/latency?group=category", "usage"],
    ["latency_usage_90d", "/dashboard/alpha/latency?range=90d&group=category", "usage"],
  ]) {
    const times = [];
    let api = [];
    for (let run = 0; run < RUNS; run++) {
      let ms;
      try {
        ms = await renderTime(page, server.base + url, marker);
      } catch {
        // e.g. a metrics query over the statement timeout: the page shows its error state.
        const alert = await page.getByRole("alert").first().textContent().catch(() => "");
        results[name] = { error: alert || "did not render" };
        break;
      }
      const measured = await page.evaluate(() => ({
        api: performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/")).map((e) => [new URL(e.name).pathname, Math.round(e.duration)]),
      }));
      times.push(ms);
      api = measured.api;
    }
    if (!results[name]) results[name] = { median_ms: median(times), max_ms: Math.max(...times), runs: times, last_api_ms: api };
    console.log(name, JSON.stringify(results[name]));
  }
  await browser.close();
  console.log(JSON.stringify({ logs: LOGS, runs: RUNS, results }, null, 1));
} finally {
  await server.stop();
}
