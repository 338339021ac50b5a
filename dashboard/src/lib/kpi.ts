// KPI change against the previous period.
//
// Counts and durations change by a relative percentage; a rate that is already a percentage
// (success rate) changes by percentage points, since "+5%" of 90% would be ambiguous.
// `good` says whether the change is an improvement: more tickets is neutral, a higher success
// rate is good, more errors and slower runs are bad.

export type Direction = "up-good" | "down-good" | "neutral";
export type Tone = "good" | "bad" | "neutral";

export interface KpiChange {
  /** "+12.5%", "−3.0 pp", "new", "no change" or "—" (nothing to compare with). */
  label: string;
  /** Signed numeric change (percent or points); null when not comparable. */
  delta: number | null;
  tone: Tone;
  arrow: "▲" | "▼" | "";
}

export function kpiChange(
  current: number,
  previous: number,
  options: { unit: "percent" | "points"; direction: Direction; previousEmpty?: boolean },
): KpiChange {
  if (!Number.isFinite(current) || !Number.isFinite(previous)) {
    return { label: "—", delta: null, tone: "neutral", arrow: "" };
  }
  // No runs at all before: a rate of 0 there is "no data", not a baseline (76 % is not
  // "+76 pp" against nothing).
  if (options.previousEmpty) return { label: "no earlier data", delta: null, tone: "neutral", arrow: "" };
  let delta: number;
  if (options.unit === "points") {
    delta = round1(current - previous);
  } else {
    if (previous === 0) {
      if (current === 0) return { label: "no change", delta: 0, tone: "neutral", arrow: "" };
      return { label: "new", delta: null, tone: "neutral", arrow: "▲" };
    }
    delta = round1(((current - previous) / previous) * 100);
  }
  if (delta === 0) return { label: "no change", delta: 0, tone: "neutral", arrow: "" };
  const sign = delta > 0 ? "+" : "−";
  const magnitude = Math.abs(delta).toFixed(1);
  const label = options.unit === "points" ? `${sign}${magnitude} pp` : `${sign}${magnitude}%`;
  let tone: Tone = "neutral";
  if (options.direction === "up-good") tone = delta > 0 ? "good" : "bad";
  if (options.direction === "down-good") tone = delta < 0 ? "good" : "bad";
  return { label, delta, tone, arrow: delta > 0 ? "▲" : "▼" };
}

function round1(value: number): number {
  const rounded = Math.round(value * 10) / 10;
  return Object.is(rounded, -0) ? 0 : rounded;
}
