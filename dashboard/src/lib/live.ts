// Live updates by polling a cheap change token.
//
// GET /api/v1/logs/changes answers a token that changes as soon as a log of the client is
// stored (whatever its executed_at: a log sent late with an old time counts too), deleted or
// updated: two index probes on the server. The page takes its baseline token when its data is
// loaded (the token request is sent first, so anything stored after the baseline is also after
// or in the data), then asks every LIVE_POLL_MS; a different token reloads the page's data in
// place. A full refresh every FULL_REFRESH_MS moves rolling windows ("last 24 h") along. Polling
// pauses while the tab is hidden and resumes at once when it is shown; a failed probe shows the
// page as offline until a probe succeeds again.
import { useEffect, useRef, useState } from "react";
import { getJson } from "../api/client";
import { usePageVisible, usePolling } from "./hooks";

export const LIVE_POLL_MS = 2500;
export const FULL_REFRESH_MS = 60000;

export type LiveStatus = "live" | "offline" | "paused" | "off";

export async function changeToken(): Promise<string> {
  return (await getJson<{ token: string }>("/api/v1/logs/changes", {})).token;
}

/** Calls `onChange` when the client's logs change (or every FULL_REFRESH_MS) while enabled.
 * `key`: the page's data key; a new key (filters, period, client) takes a new baseline. Call it
 * before the page's loaders so its baseline request goes out first. */
export function useLiveUpdates(key: string, onChange: () => void, options: { enabled?: boolean } = {}): LiveStatus {
  const enabled = options.enabled ?? true;
  const baseline = useRef<string | null>(null);
  const lastFull = useRef(Date.now());
  const busy = useRef(false);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const [offline, setOffline] = useState(false);
  const visible = usePageVisible();

  useEffect(() => {
    if (!enabled) return;
    let cancelled = false;
    baseline.current = null;
    lastFull.current = Date.now();
    changeToken()
      .then((token) => {
        if (!cancelled) baseline.current = token;
      })
      .catch(() => !cancelled && setOffline(true));
    return () => {
      cancelled = true;
    };
  }, [key, enabled]);

  usePolling(
    () => {
      if (busy.current) return;
      busy.current = true;
      changeToken()
        .then((token) => {
          setOffline(false);
          const changed = baseline.current !== null && token !== baseline.current;
          baseline.current = token;
          if (changed || Date.now() - lastFull.current > FULL_REFRESH_MS) {
            lastFull.current = Date.now();
            onChangeRef.current();
          }
        })
        .catch(() => setOffline(true)) // retried on the next tick
        .finally(() => {
          busy.current = false;
        });
    },
    LIVE_POLL_MS,
    enabled,
  );

  if (!enabled) return "off";
  if (!visible) return "paused";
  return offline ? "offline" : "live";
}
