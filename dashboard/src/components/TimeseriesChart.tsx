import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { TimeseriesRow } from "../api/types";
import { chartRows } from "../lib/charts";
import { formatBucket, formatCount, formatPercent } from "../lib/format";

/** Tickets and errors (bars) and the success rate (line) per bucket; a click on a bucket calls
 * `onBucket` with its start (the page opens the logs of that bucket). */
export default function TimeseriesChart({ rows, interval, onBucket }: { rows: TimeseriesRow[]; interval: "hour" | "day"; onBucket?: (bucket: string) => void }) {
  return (
    <div className="h-72" data-testid="chart-timeseries">
      <ResponsiveContainer width="100%" height="100%">
        <ComposedChart
          data={chartRows(rows)}
          margin={{ top: 5, right: 0, left: -8, bottom: 5 }}
          onClick={(state) => {
            const label = (state as { activeLabel?: string | number } | null)?.activeLabel;
            if (onBucket && label !== undefined) onBucket(String(label));
          }}
          style={onBucket ? { cursor: "pointer" } : undefined}
        >
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="bucket" tickFormatter={(v: string) => formatBucket(v, interval)} tick={{ fontSize: 12, fill: "#334155" }} minTickGap={24} />
          <YAxis yAxisId="count" allowDecimals={false} tick={{ fontSize: 12, fill: "#334155" }} width={44} />
          <YAxis yAxisId="rate" orientation="right" domain={[0, 100]} unit="%" tick={{ fontSize: 12, fill: "#334155" }} width={44} />
          <Tooltip labelFormatter={(v) => formatBucket(String(v), interval)} formatter={(value, name) => (name === "Success rate" ? formatPercent(Number(value)) : formatCount(Number(value)))} />
          <Legend formatter={(value) => <span style={{ color: "#1e293b" }}>{value}</span>} />
          <Bar yAxisId="count" dataKey="count" name="Tickets" fill="#6366f1" isAnimationActive={false} />
          <Bar yAxisId="count" dataKey="error_count" name="Errors" fill="#dc2626" isAnimationActive={false} />
          <Line yAxisId="rate" dataKey="success_rate" name="Success rate" stroke="#059669" strokeWidth={2} dot={false} isAnimationActive={false} />
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
}
