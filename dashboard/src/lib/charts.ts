import type { TimeseriesRow } from "../api/types";

/** An empty bucket has no success rate (not 0%): the line skips it instead of diving to zero. */
export function chartRows(rows: TimeseriesRow[]): (Omit<TimeseriesRow, "success_rate"> & { success_rate: number | null })[] {
  return rows.map((row) => ({ ...row, success_rate: row.count ? row.success_rate : null }));
}
