// The header's badge: how many of the current client's alert rules fire now (polled every 30 s
// while the tab is visible; one small request, the rule list filtered by state).
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { usePolling } from "../lib/hooks";
import { useClient } from "../client";
import { listRules } from "./api";

export const BADGE_POLL_MS = 30_000;

export function FiringBadge() {
  const client = useClient();
  const clientKey = client.slug;
  const [firing, setFiring] = useState(0);
  const load = useCallback(() => {
    listRules("firing")
      .then((rules) => setFiring(rules.length))
      .catch(() => undefined); // the badge never breaks the header
  }, []);
  useEffect(load, [load, clientKey]);
  usePolling(load, BADGE_POLL_MS);
  if (!firing) return null;
  return (
    <Link
      to={client.path("/alerts")}
      data-testid="firing-badge"
      title={`${firing} alert rule${firing === 1 ? "" : "s"} firing`}
      className="inline-flex items-center gap-1 rounded-full bg-red-700 px-2.5 py-0.5 text-xs font-semibold text-white hover:bg-red-800"
    >
      <span className="h-2 w-2 rounded-full bg-white" aria-hidden="true" />
      {firing} firing
    </Link>
  );
}
