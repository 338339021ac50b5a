// Helpers shared by the end-to-end suites: the test runner, screenshots, sign-in, overflow and
// accessibility checks.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SHOTS = path.join(HERE, "screenshots");
mkdirSync(SHOTS, { recursive: true });
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

export const results = [];
export async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`  ✓ ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push({ name, ok: false, error });
    console.log(`  ✗ ${name}\n    ${String(error?.stack ?? error).split("\n").slice(0, 8).join("\n    ")}`);
  }
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export async function signIn(page, base, username, password, landing = "alpha") {
  await page.goto(`${base}/dashboard/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // The login page returns to where the user was sent from (if anywhere): then go to the overview.
  await page.waitForURL((url) => !url.pathname.endsWith("/login"));
  if (!page.url().endsWith(`/dashboard/${landing}/overview`)) await page.goto(`${base}/dashboard/${landing}/overview`);
}

/** How far the page scrolls sideways (0: it does not). */
export function sideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** Runs axe-core (the accessibility engine) on the page: WCAG 2 A/AA rules, colour contrast
 * included. Returns the violations as "rule: target" strings. */
export async function axe(page) {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"] }, resultTypes: ["violations"] });
    return result.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(" ")} — ${n.failureSummary?.split("\n")[1]?.trim() ?? ""}`));
  });
}
