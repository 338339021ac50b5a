// Live updates by polling a cheap "newest log" probe.
//
// Every LIVE_POLL_MS the dashboard asks for one row in cursor mode (no count, one index
// probe on (client, executed_at desc, id desc)); only when the newest id changes does it
// reload the page's real queries. So an idle dashboard costs the server almost nothing, and a
// new log shows up within about LIVE_POLL_MS + one reload. Polling pauses while the tab is
// hidden. A log ingested with an old executed_at does not move the head; the periodic full
// refresh (FULL_REFRESH_MS) catches those.
import { useRef } from "react";
import { getJson } from "../api/client";
import type { LogList } from "../api/types";
import { usePolling } from "./hooks";

export const LIVE_POLL_MS = 2500;
export const FULL_REFRESH_MS = 60000;

export async function newestLogId(extra: Record<string, string> = {}): Promise<string | null> {
  const list = await getJson<LogList>("/api/v1/logs", { ...extra, cursor: "", page_size: 1, ordering: "-executed_at" });
  return list.data[0]?.id ?? null;
}

/** Calls `onChange` when a newer log appears (or every FULL_REFRESH_MS), while enabled. */
export function useLiveUpdates(onChange: () => void, options: { enabled?: boolean; probeFilters?: Record<string, string> } = {}): void {
  const head = useRef<string | null | undefined>(undefined);
  const lastFull = useRef(Date.now());
  const busy = useRef(false);
  const filtersKey = JSON.stringify(options.probeFilters ?? {});
  const filtersRef = useRef(filtersKey);
  if (filtersRef.current !== filtersKey) {
    filtersRef.current = filtersKey;
    head.current = undefined;
  }
  usePolling(
    () => {
      if (busy.current) return;
      busy.current = true;
      newestLogId(options.probeFilters)
        .then((id) => {
          const changed = head.current !== undefined && id !== head.current;
          head.current = id;
          if (changed || Date.now() - lastFull.current > FULL_REFRESH_MS) {
            lastFull.current = Date.now();
            onChange();
          }
        })
        .catch(() => undefined) // a failed probe is retried on the next tick
        .finally(() => {
          busy.current = false;
        });
    },
    LIVE_POLL_MS,
    options.enabled ?? true,
  );
}
