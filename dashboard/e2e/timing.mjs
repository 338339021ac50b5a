// Render timing measured inside the page: a MutationObserver installed before any script
// records performance.now() (ms since navigation start) the moment a selector first matches,
// so the figure does not include the test driver's own polling delay.
export const MARKERS = {
  overview: '[data-testid="kpi-tickets-value"]',
  logs: '[data-testid="log-row"]',
  issues: '[data-testid="issue-row"]',
  versions: '[data-testid="version-row"]',
  usage: '[data-testid="usage-table"]',
};

export async function installTiming(context) {
  await context.addInitScript((markers) => {
    const seen = {};
    Object.defineProperty(window, "__renderTimes", { value: seen });
    const check = () => {
      for (const [name, selector] of Object.entries(markers)) {
        if (seen[name] === undefined && document.querySelector(selector)) seen[name] = Math.round(performance.now());
      }
    };
    new MutationObserver(check).observe(document, { childList: true, subtree: true });
  }, MARKERS);
}

/** Load `url` and return ms from navigation start until `marker` was first in the page. */
export async function renderTime(page, url, marker, timeout = 30000) {
  await page.goto(url);
  await page.waitForSelector(MARKERS[marker], { state: "attached", timeout });
  return page.evaluate((name) => window.__renderTimes[name], marker);
}
